"""manage.py import_csv KIND FILE --retailer SLUG [--create-missing-customers]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retailers.exceptions import NOTHING_NEW, ImportRejected, RowError
from retailers.models import ImportKind, Retailer
from retailers.services import import_file_run


def format_row_error(error: RowError) -> str:
    """``row N, column X: reason`` (``row N: reason`` when the problem is the whole row)."""
    column = f", column {error.column}" if error.column else ""
    return f"row {error.row}{column}: {error.message}"


class Command(BaseCommand):
    # No system checks: they import every URL module, and through the views the scoring engine
    # (scikit-learn, SciPy), about a second of start-up an import never uses. ``manage.py check``
    # and the server run them.
    requires_system_checks: list[str] = []
    help = (
        "Import one contract CSV file (see docs/csv-format.md) into a retailer. All or nothing: "
        "any invalid row imports nothing and every bad row is printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportKind.values, help="which file this is")
        parser.add_argument("file", help="path of the CSV file (UTF-8, with or without BOM)")
        parser.add_argument("--retailer", required=True, help="slug of the receiving retailer")
        parser.add_argument(
            "--create-missing-customers",
            action="store_true",
            help="transactions only: create customers the file names but the retailer lacks",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind, path = options["kind"], Path(options["file"])
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        if options["create_missing_customers"] and kind != ImportKind.TRANSACTIONS:
            raise CommandError("--create-missing-customers applies to transactions only")
        try:
            summary = import_file_run(
                retailer=retailer,
                kind=kind,
                path=path,
                create_missing_customers=options["create_missing_customers"],
            )
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(format_row_error(error))
            if exc.total_errors > len(exc.errors):
                self.stderr.write(f"... and {exc.total_errors - len(exc.errors)} more")
            raise CommandError(
                f"{path.name} rejected: {exc.total_errors} error(s), nothing imported"
            ) from None
        if not summary.get("rows", summary.get("lines_read")):
            self.stdout.write(f"{path.name} ({kind}): {NOTHING_NEW} (0 rows imported).")
            return
        counts = ", ".join(f"{key} {value}" for key, value in summary.items())
        self.stdout.write(f"Imported {path.name} ({kind}) into {retailer.slug}: {counts}.")
