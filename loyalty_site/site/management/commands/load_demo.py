"""``manage.py load_demo``: the Complete Journey demo retailer with one staff user per role."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_site.site.demo.loader import DEMO_SLUG, demo_load
from loyalty_site.site.demo.writing import DEMO_PASSWORD, DemoRetailerConflict

COUNT_ORDER = [
    "stores",
    "products",
    "customers",
    "transactions",
    "lines",
    "bonus_types",
    "offers",
    "offers_redeemed",
    "promotion_history",
    "inventory_levels",
    "competitor_prices",
]


class Command(BaseCommand):
    help = (
        "Load (or replace) the demo retailer from 84.51°'s The Complete Journey, with staff "
        "users demo-viewer, demo-analyst, demo-approver and demo-admin. See docs/demo-data.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", default=DEMO_SLUG, help="retailer slug (default: demo)")
        parser.add_argument(
            "--households",
            type=int,
            default=None,
            help="only the N smallest household ids (a small deterministic slice)",
        )
        parser.add_argument(
            "--skip-promotions",
            action="store_true",
            help="skip the display/mailer history (20.9 million source rows)",
        )
        parser.add_argument(
            "--password", default=DEMO_PASSWORD, help="password of the demo staff users"
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing when the demo retailer is already fully loaded",
        )

        parser.add_argument(
            "--keep-dates",
            action="store_true",
            help="keep the original 2017 calendar instead of moving the data into the present",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["households"] is not None and options["households"] < 1:
            raise CommandError("--households must be at least 1")
        self.stdout.write(f"Loading the Complete Journey demo as retailer {options['slug']!r}")
        try:
            result = demo_load(
                slug=options["slug"],
                households=options["households"],
                promotions=not options["skip_promotions"],
                password=options["password"],
                if_missing=options["if_missing"],
                shift_dates=not options["keep_dates"],
                report=self.stdout.write,
            )
        except DemoRetailerConflict as exc:
            raise CommandError(str(exc)) from exc
        if result.skipped:
            self.stdout.write(f"Demo retailer {result.slug!r} already loaded: nothing to do.")
            return
        counts = result.counts
        self.stdout.write(f"  {'total':<28} {sum(result.timings.values()):7.1f} s")
        self.stdout.write(
            ", ".join(
                f"{name.replace('_', ' ')} {counts[name]:,}"
                for name in COUNT_ORDER
                if name in counts
            )
        )
        self.stdout.write(
            "Source lines {lines_raw:,}: dropped {lines_dropped_zero_quantity:,} with quantity 0 "
            "and {lines_dropped_sign_mismatch:,} with opposite signs; fixed "
            "{lines_fixed_coupon_over_price:,} whose coupon exceeded the price; "
            "{baskets_dropped_empty:,} baskets left empty were dropped.".format(**counts)
        )
        self.stdout.write(
            f"Dates moved by {result.shift_weeks} weeks: the original data ends on "
            f"{result.source_end}, the demo's on {result.end}."
        )
        shown = options["password"] if options["password"] == DEMO_PASSWORD else "(as given)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Done. Sign in at the address the web server prints as "
                f"{', '.join(result.usernames)} with password {shown}."
            )
        )
