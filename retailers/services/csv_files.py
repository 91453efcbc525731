"""The header check of a contract CSV file, against the kind's import resource.

Reading the file itself (encoding, header, row widths) is :mod:`retailers.csvio`, the one CSV
reader of the project; this module only adds the check that needs the resources.
"""

from __future__ import annotations

from retailers.exceptions import ImportRejected
from retailers.import_kinds import resource_class_for


def header_check(*, kind: str, headers: list[str]) -> None:
    """Raise :class:`ImportRejected` when a header lacks required columns or has unknown ones."""
    problems = resource_class_for(kind).header_problems(headers)
    if problems:
        raise ImportRejected(problems)
