"""``manage.py export_promotions``: the approved promotions of a day's week as CSV for the tills
and the web shop (docs/promotions.md)."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.services.promotion_publish import (
    promotion_row,
    promotions_csv_write,
    promotions_current,
)
from customers.services.points import retailer_today
from retailers.models import Retailer


class Command(BaseCommand):
    help = (
        "Write the approved promotions in force on a day (default: today in the retailer's time "
        "zone) as CSV: sku, product, scope, store, regular_price, promoted_price, discount_rate, "
        "valid_from, valid_to."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument(
            "--date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default today)"
        )
        parser.add_argument(
            "-o", "--output", required=True, help="CSV file to write ('-' for standard output)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        day = options["date"] or retailer_today(retailer)
        items = list(promotions_current(retailer_id=retailer.pk, today=day))
        if not items:
            raise CommandError(f"{retailer} has no approved promotions in force on {day}")
        output = options["output"]
        target = (
            nullcontext(self.stdout)
            if output == "-"
            else open(output, "w", newline="", encoding="utf-8")  # noqa: SIM115
        )
        with target as stream:
            rows = promotions_csv_write((promotion_row(item) for item in items), stream)
        if output != "-":
            self.stdout.write(f"Wrote {rows} promoted products in force on {day} to {output}.")
