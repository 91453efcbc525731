"""``manage.py recommend_offers``: queue a recommendation run of a retailer, or run it here."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from optimizer.exceptions import RecommendationError
from optimizer.models import RecommendationRun
from optimizer.selectors import recommendation_holdout_table, timings_table
from optimizer.services.recommend import recommendation_run_create, recommendation_run_execute
from retailers.models import Retailer, RunStatus


class Command(BaseCommand):
    help = (
        "Recommend personal product offers (buy again, try, popular) for every customer of a "
        "retailer, with a holdout evaluation. Queues a background run unless --sync. See "
        "docs/recommendations.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="date YYYY-MM-DD (default: the day after the latest transaction)",
        )
        parser.add_argument("--top-k", type=int, default=10, help="candidates per customer")
        parser.add_argument(
            "--holdout-weeks", type=int, default=4, help="weeks held out for evaluation (0: none)"
        )
        parser.add_argument("--sync", action="store_true", help="run here, not in a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        sync = options["sync"]
        try:
            run = recommendation_run_create(
                retailer=retailer,
                as_of=options["as_of"],
                top_k=options["top_k"],
                holdout_weeks=options["holdout_weeks"],
                enqueue=not sync,
            )
        except (RecommendationError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        if not sync:
            self.stdout.write(
                f"Queued recommendation run #{run.pk} of {retailer} as of {run.as_of}."
            )
            return
        bar = tqdm(total=100, unit="%", file=self.stderr, disable=options["verbosity"] == 0)

        def progress(percent: int, stage: str) -> None:
            bar.set_description(stage)
            bar.update(max(0, percent - bar.n))

        try:
            result = recommendation_run_execute(run_id=run.pk, inline=True, progress=progress)
        finally:
            bar.close()
        if result is None or result.status != RunStatus.SUCCEEDED:
            raise CommandError(f"recommendation run #{run.pk} failed: {result and result.error}")
        self._report(result)

    def _report(self, run: RecommendationRun) -> None:
        write = self.stdout.write
        holdout = run.metrics.get("holdout") or {}
        if holdout:
            k = holdout.get("k")
            write(
                f"Holdout from {holdout.get('split')} ({run.holdout_weeks} weeks, "
                f"{holdout.get('customers', 0):,} customers who bought):"
            )
            write(
                f"  {'list':<44} {'prec@' + str(k):>8} {'rec@' + str(k):>8} {'ndcg@' + str(k):>8}"
                f" {'new hits':>8} {'value/offer':>11}"
            )
            for row in recommendation_holdout_table(run.metrics):
                write(
                    f"  {row['label']:<44} {row['precision']:>8.4f} {row['recall']:>8.4f} "
                    f"{row['ndcg']:>8.4f} {row['new_item_hit_share']:>8.3f} "
                    f"{row['incremental_value_per_offer']:>11.4f}"
                )
        champion = run.metrics.get("champion") or {}
        if champion:
            write(f"Served: {champion.get('served')} ({champion.get('reason')})")
        for row in holdout.get("calibration", []):
            after = (
                f"{row['predicted_after']:.3f} calibrated"
                if row.get("calibrated")
                else "not calibrated (too few offers)"
            )
            write(
                f"  P(buy anyway) {row['kind']:<10} {row['offers']:>7,} offers: observed "
                f"{row['observed']:.3f}, predicted {row['predicted']:.3f} raw, {after}"
            )
        write(
            "Seconds per stage: " + ", ".join(f"{s} {v:.1f}" for s, v in timings_table(run.timings))
        )
        write(
            self.style.SUCCESS(
                f"Recommendation run #{run.pk} of {run.retailer} succeeded: "
                f"{run.candidates_written:,} candidates for {run.customers_done:,} customers."
            )
        )
