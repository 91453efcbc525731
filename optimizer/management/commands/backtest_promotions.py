"""``manage.py backtest_promotions``: replay the last weeks and measure the lift model."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from optimizer.management.commands.propose_promotions import iso_week
from optimizer.models import PromotionRun
from optimizer.services import PromotionError, promotion_run_create, promotion_run_execute
from retailers.models import Retailer, RunStatus


def _cell(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


class Command(BaseCommand):
    help = (
        "Backtest the promotion-lift model of a retailer on its last year (rolling origin) "
        "against the naive rule; prints and stores WAPE and bias (a PromotionRun of kind "
        "backtest, shown on later proposals). Runs here, in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument(
            "--weeks", type=int, default=52, help="weeks replayed (52: a year, holidays included)"
        )
        parser.add_argument(
            "--week",
            type=iso_week,
            default=None,
            help="ISO week YYYY-Www: replay the weeks before it (default: the coming week)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        try:
            run = promotion_run_create(
                retailer=retailer,
                week_start=options["week"],
                kind=PromotionRun.Kind.BACKTEST,
                options={"backtest_weeks": options["weeks"]},
                trigger="command",
                enqueue=False,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        done = promotion_run_execute(run_id=run.pk)
        if done is None or done.status != RunStatus.SUCCEEDED:
            raise CommandError(f"backtest #{run.pk} failed: {done and done.error}")
        self._report(done)

    def _report(self, run: PromotionRun) -> None:
        write, result = self.stdout.write, run.result
        write(
            f"Backtest of {run.retailer}: {result['n_weeks']} weeks before {run.week_start}, "
            f"{result['n_product_weeks']:,} promoted product-weeks, "
            f"{result['inputs']['candidates']:,} products"
        )
        write(
            f"  {'week':<12} {'promoted':>8} {'actual':>9} {'model WAPE':>10} {'bias':>7} "
            f"{'naive WAPE':>10} {'bias':>7} {'parity WAPE':>11}  event"
        )
        for week in result["weeks"]:
            write(
                f"  {week['week_start']:<12} {week['n_promoted']:>8} {week['actual_units']:>9.0f} "
                f"{_cell(week['model_wape']):>10} {_cell(week['model_bias'], '+.3f'):>7} "
                f"{_cell(week['naive_wape']):>10} {_cell(week['naive_bias'], '+.3f'):>7} "
                f"{_cell(week.get('parity_wape')):>11}  {week.get('event', '')}"
            )
        write(f"  {'':<12} {'WAPE':>8} {'bias':>9}")
        write(
            f"  {'model':<12} {_cell(result['model_wape']):>8} "
            f"{_cell(result['model_bias'], '+.3f'):>9}"
        )
        write(
            f"  {'naive':<12} {_cell(result['naive_wape']):>8} "
            f"{_cell(result['naive_bias'], '+.3f'):>9}"
        )
        competitor = (result.get("metrics") or {}).get("competitor")
        if competitor:
            write(
                f"  competitor prices at parity: WAPE {_cell(competitor['parity_wape'])}; the "
                f"feature moves the promoted forecast by {competitor['change']:+.1%} in total"
            )
        write("Seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in run.timings.items()))
        self.stdout.write(self.style.SUCCESS(f"Backtest #{run.pk} stored."))
