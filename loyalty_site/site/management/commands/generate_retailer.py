"""``manage.py generate_retailer``: a synthetic retailer of any size, with ground truth."""

from __future__ import annotations

import resource
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_site.site.demo.generator import SYNTHETIC_SLUG, synthetic_retailer_generate
from loyalty_site.site.demo.synthetic import DEFAULT_AS_OF
from loyalty_site.site.demo.writing import DemoRetailerConflict


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Command(BaseCommand):
    help = (
        "Generate (or replace) a synthetic demo retailer with documented ground truth "
        "(docs/synthetic-data.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--slug", default=SYNTHETIC_SLUG)
        parser.add_argument("--weeks", type=int, default=52, help="weeks of history (default 52)")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=DEFAULT_AS_OF,
            help=f"first day after the history (default {DEFAULT_AS_OF.isoformat()})",
        )
        parser.add_argument(
            "--chunk-customers",
            type=int,
            default=50_000,
            help="customers generated and written per transaction (memory bound)",
        )
        parser.add_argument(
            "--truth-out", type=Path, default=None, help="write the ground truth to this CSV"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="chunks written concurrently (default 2)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = ("customers", "weeks", "chunk_customers", "workers")
        if any(options[name] < 1 for name in sizes):
            raise CommandError("--customers, --weeks, --chunk-customers and --workers must be >= 1")
        self.stdout.write(
            f"Generating {options['customers']:,} customers (seed {options['seed']}, "
            f"{options['weeks']} weeks to {options['as_of']}) as retailer {options['slug']!r}"
        )
        try:
            result = synthetic_retailer_generate(
                customers=options["customers"],
                seed=options["seed"],
                weeks=options["weeks"],
                as_of=options["as_of"],
                slug=options["slug"],
                chunk_customers=options["chunk_customers"],
                truth_out=options["truth_out"],
                workers=options["workers"],
                report=self.stdout.write,
            )
        except DemoRetailerConflict as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.counts.items())
        )
        truth = f"; truth in {options['truth_out']}" if options["truth_out"] else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {sum(result.timings.values()):.1f} s, peak memory "
                f"{_peak_rss_mb():,.0f} MB{truth}."
            )
        )
