"""``manage.py export_scores``: a scoring run's customer scores as CSV (docs/scoring.md)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_site import safe_csv
from optimizer.models import ScoringRun
from optimizer.selectors import customer_scores_csv_rows, scoring_run_latest_succeeded
from retailers.models import Retailer, RunStatus


class Command(BaseCommand):
    help = (
        "Write the scores of a retailer's scoring run (default: the latest succeeded one) as "
        "CSV: customer_external_id, churn_probability, expected_visits, expected_spend, clv, "
        "segment, response_<bonus type code>..."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument("--run", type=int, default=None, help="scoring run id")
        parser.add_argument(
            "-o", "--output", required=True, help="CSV file to write ('-' for standard output)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        run = self._run(retailer, options["run"])
        output = options["output"]
        target = (
            nullcontext(self.stdout)
            if output == "-"
            else open(output, "w", newline="", encoding="utf-8")  # noqa: SIM115
        )
        rows = 0
        with target as stream:
            writer = safe_csv.writer(stream)
            for rows, row in enumerate(customer_scores_csv_rows(run=run)):  # noqa: B007
                writer.writerow(row)
        if output != "-":
            self.stdout.write(
                f"Wrote {rows:,} scores of run #{run.pk} ({retailer}, as of {run.as_of}) "
                f"to {output}."
            )

    def _run(self, retailer: Retailer, run_id: int | None) -> ScoringRun:
        if run_id is None:
            run = scoring_run_latest_succeeded(retailer=retailer)
            if run is None:
                raise CommandError(f"{retailer} has no succeeded scoring run yet")
            return run
        run = ScoringRun.objects.for_retailer(retailer).filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"{retailer} has no scoring run #{run_id}")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"scoring run #{run_id} has not succeeded ({run.status})")
        return run
