"""Domain errors of the data-in side and of the tenant's runs.

Each error class is one answer (``code``, HTTP ``status``) of the one error model,
:class:`loyalty_site.errors.ApplicationError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty_site.errors import ApplicationError


@dataclass(frozen=True)
class RowError:
    """One problem in an imported file.

    ``row`` is the line number as a spreadsheet shows it: the header is row 1, the first data row
    is row 2. ``column`` is the CSV column name ("" when the problem is the whole row or file).
    """

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.message}"


#: What an import of a header-only file says: it is a valid file with nothing new, not an error.
NOTHING_NEW = "the file has a header and no data rows: nothing new to import"


class ImportRejected(ApplicationError):
    """A file was refused as a whole: nothing was written. ``errors`` lists every bad row."""

    code = "import_rejected"
    status = 400

    def __init__(self, errors: list[RowError], *, total_errors: int | None = None) -> None:
        self.errors = errors
        self.total_errors = total_errors if total_errors is not None else len(errors)
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {self.total_errors - 5} more)" if self.total_errors > 5 else ""
        super().__init__(f"{self.total_errors} invalid row(s), nothing imported: {shown}{more}")


class RunNotRestartable(ApplicationError):
    """Only a run whose worker died or was stopped may be restarted."""

    code = "run_not_restartable"
    status = 409


class DemoRetailerConflict(ApplicationError):
    """The slug belongs to a retailer that is not a demo: it is never replaced."""

    code = "demo_retailer_conflict"
    status = 409


class LastAdminRemoved(ApplicationError):
    """A retailer keeps at least one admin: give another member the admin role first."""

    code = "last_admin"
    status = 400
