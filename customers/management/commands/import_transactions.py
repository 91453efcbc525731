"""``manage.py import_transactions FILE --retailer SLUG [--create-missing-customers]``.

Bulk-loads a transactions CSV through ``customers.services.transactions_bulk_import``, with a
progress bar on the terminal and a one-line summary; a rejected file lists its errors on stderr
and exits non-zero.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from customers.services import transactions_bulk_import
from retailers.exceptions import NOTHING_NEW, ImportRejected
from retailers.models import Retailer


class _ProgressBars:
    """A tqdm bar for the validation pass (total unknown), then one for the load pass."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.loading = False

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None or (total is not None and not self.loading):
            self.close()
            self.loading = total is not None
            label = "loading" if self.loading else "validating"
            self.bar = tqdm(
                total=total,
                desc=label,
                unit=" lines",
                unit_scale=True,
                file=sys.stderr,
                disable=None,  # no bar when stderr is not a terminal
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Import a transactions CSV file (one row per basket line) for one retailer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="transactions.csv (UTF-8, comma-separated)")
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument(
            "--create-missing-customers",
            action="store_true",
            help="create customers the file mentions but the retailer does not have yet",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        bars = _ProgressBars()
        try:
            result = transactions_bulk_import(
                retailer=retailer,
                path=path,
                create_missing_customers=options["create_missing_customers"],
                progress=bars,
            )
        except ImportRejected as exc:
            bars.close()
            for error in exc.errors:
                where = f"row {error.row}" + (f", column {error.column}" if error.column else "")
                self.stderr.write(f"{where}: {error.message}")
            if exc.total_errors > len(exc.errors):
                self.stderr.write(f"and {exc.total_errors - len(exc.errors):,} more")
            raise CommandError(
                f"{path.name} rejected: {exc.total_errors:,} error(s), nothing was imported"
            ) from exc
        bars.close()
        if not result.lines_read:
            self.stdout.write(f"{retailer.slug}: {NOTHING_NEW} (0 lines imported)")
            return
        self.stdout.write(
            f"{retailer.slug}: {result.lines_created:,} lines in "
            f"{result.transactions_created:,} new transactions, "
            f"{result.transactions_skipped:,} already imported (skipped), "
            f"{result.customers_created:,} new customers; {result.lines_read:,} lines read "
            f"in {result.seconds:.1f} s"
        )
