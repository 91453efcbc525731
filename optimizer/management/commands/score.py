"""``manage.py score``: queue a scoring run of a retailer, or run it here with ``--sync``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from optimizer.exceptions import ScoringError
from optimizer.models import ACTIVE_STATUSES, ScoringRun
from optimizer.selectors import holdout_table, scoring_run_latest, timings_table
from optimizer.services import scoring_run_create, scoring_run_execute
from retailers.models import Retailer, RunStatus


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = (
        "Score every customer of a retailer (churn, visits, spend, CLV, offer response, "
        "segment). Queues a background run unless --sync. See docs/scoring.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="scoring date YYYY-MM-DD (default: the day after the latest transaction)",
        )
        parser.add_argument("--horizon-weeks", type=int, default=8, help="forecast horizon")
        parser.add_argument(
            "--sync", action="store_true", help="run here with a progress bar, not in a worker"
        )
        parser.add_argument(
            "--if-none",
            action="store_true",
            help="do nothing if the retailer already has a succeeded or active run",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        if options["if_none"]:
            existing = scoring_run_latest(
                retailer=retailer, statuses=(RunStatus.SUCCEEDED, *ACTIVE_STATUSES)
            )
            if existing is not None:
                self.stdout.write(
                    f"{retailer} already has scoring run #{existing.pk} ({existing.status}): "
                    "nothing to do."
                )
                return
        sync = options["sync"]
        try:
            run = scoring_run_create(
                retailer=retailer,
                as_of=options["as_of"],
                horizon_weeks=options["horizon_weeks"],
                enqueue=not sync,
            )
        except (ScoringError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        if not sync:
            self.stdout.write(
                f"Queued scoring run #{run.pk} of {retailer} as of {run.as_of} "
                f"(horizon {run.horizon_weeks} weeks); a worker of the long queue runs it."
            )
            return
        run = self._execute(run, quiet=options["verbosity"] == 0)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"scoring run #{run.pk} failed: {run.error}")
        self._report(run)

    def _execute(self, run: ScoringRun, *, quiet: bool) -> ScoringRun:
        bar = tqdm(total=100, unit="%", file=self.stderr, disable=quiet, dynamic_ncols=True)

        def progress(percent: int, stage: str) -> None:
            bar.set_description(stage)
            bar.update(max(0, percent - bar.n))

        try:
            result = scoring_run_execute(run_id=run.pk, inline=True, progress=progress)
        finally:
            bar.close()
        assert result is not None  # noqa: S101 - the run was created just above
        return result

    def _report(self, run: ScoringRun) -> None:
        write = self.stdout.write
        write(f"Holdout metrics (as of {run.as_of}, horizon {run.horizon_weeks} weeks):")
        write(f"  {'metric':<52} {'model':>8} {'BG/NBD':>8} {'rule/prior':>10}")
        for row in holdout_table(run.metrics):
            write(
                f"  {row['label']:<52} {_cell(row['model']):>8} {_cell(row['bgnbd']):>8} "
                f"{_cell(row['rule']):>10}"
            )
        for note in run.metrics.get("notes", []):
            write(f"  note: {note}")
        write("Seconds per stage:")
        for stage, seconds in timings_table(run.timings):
            write(f"  {stage:<12} {seconds:8.1f}")
        segments = ", ".join(f"{s['segment']} {s['size']:,}" for s in run.segment_profile)
        write(f"Segments: {segments}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Scoring run #{run.pk} of {run.retailer} succeeded: "
                f"{run.customers_scored:,} customers scored in {run.chunks_total} chunk(s)."
            )
        )
