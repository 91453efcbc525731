"""The one domain error model: every error a person or a till can act on derives from here.

HackSoft's ``ApplicationError`` pattern. A domain error carries

- ``code``: a stable snake_case string that clients may branch on (the API's ``error.code``),
- ``status``: the HTTP status it means (the API answers with it; staff pages show it),
- ``message``: the sentence a person reads (``str(exc)``).

``code`` and ``status`` are class attributes, so one subclass is one answer; every app's
``exceptions.py`` derives its errors from :class:`ApplicationError`. The two translators are
:func:`loyalty_site.api_errors.api_exception_handler` (the API) and
:mod:`loyalty_site.error_pages` (staff pages). This module is the bottom layer: it imports
nothing of the project, so every app may import it.
"""

from __future__ import annotations

from typing import ClassVar


class ApplicationError(Exception):
    """Base of every domain error: a stable ``code``, an HTTP ``status`` and a ``message``."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str = "") -> None:
        # No message: the class docstring's first line, so a bare ``raise X()`` still reads.
        self.message = message or (type(self).__doc__ or type(self).__name__).strip().split("\n")[0]
        super().__init__(self.message)
