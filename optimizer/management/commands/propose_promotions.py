"""``manage.py propose_promotions``: queue a week's promotion proposal, or make it here (--sync)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from campaigns.models import PromotionProposal
from optimizer.models import PromotionRun
from optimizer.services import PromotionError, promotion_run_create, promotion_run_execute
from optimizer.services.promotions import iso_week_monday
from retailers.models import Retailer, RunStatus


def iso_week(text: str) -> Any:
    """argparse type of ``--week``: ``YYYY-Www`` -> its Monday."""
    try:
        return iso_week_monday(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


class Command(BaseCommand):
    help = (
        "Propose next week's promoted products of a retailer (forecast + selection). Queues a "
        "background run unless --sync. See docs/promotions.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument(
            "--week", type=iso_week, default=None, help="ISO week YYYY-Www (default: the coming)"
        )
        parser.add_argument("--k", type=int, default=20, help="at most K products (20)")
        parser.add_argument(
            "--max-per-category", type=int, default=3, help="cap per category (0: none; 3)"
        )
        parser.add_argument("--discount-budget", default=None, help="money (default: none)")
        parser.add_argument(
            "--recent-weeks", type=int, default=4, help="skip products promoted in N weeks (4)"
        )
        parser.add_argument("--pin", nargs="+", action="extend", default=[], metavar="SKU")
        parser.add_argument("--ban", nargs="+", action="extend", default=[], metavar="SKU")
        parser.add_argument(
            "--exclude-category",
            action="append",
            default=[],
            metavar="CATEGORY",
            help="never promote this category (repeatable; adds to the retailer's list)",
        )
        parser.add_argument(
            "--pin-category",
            action="append",
            default=[],
            metavar="CATEGORY",
            help="promote at least one product of this category (repeatable)",
        )
        parser.add_argument("--sync", action="store_true", help="run here, not in a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        run_options = {
            "k": options["k"],
            "max_per_category": options["max_per_category"] or None,
            "discount_budget": options["discount_budget"],
            "recent_weeks": options["recent_weeks"],
            "pinned": options["pin"],
            "banned": options["ban"],
            "excluded_categories": options["exclude_category"],
            "pinned_categories": options["pin_category"],
        }
        sync = options["sync"]
        try:
            run = promotion_run_create(
                retailer=retailer,
                week_start=options["week"],
                options=run_options,
                trigger="command",
                enqueue=not sync,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        if not sync:
            self.stdout.write(
                f"Queued promotion run #{run.pk} of {retailer} for the week of {run.week_start}; "
                "a worker of the long queue runs it."
            )
            return
        run = self._execute(run, quiet=options["verbosity"] == 0)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"promotion run #{run.pk} failed: {run.error}")
        self._report(run)

    def _execute(self, run: PromotionRun, *, quiet: bool) -> PromotionRun:
        bar = tqdm(total=100, unit="%", file=self.stderr, disable=quiet, dynamic_ncols=True)

        def progress(percent: int, stage: str) -> None:
            bar.set_description(stage)
            bar.update(max(0, percent - bar.n))

        try:
            result = promotion_run_execute(run_id=run.pk, progress=progress)
        finally:
            bar.close()
        assert result is not None  # noqa: S101 - the run was created just above
        return result

    def _report(self, run: PromotionRun) -> None:
        write = self.stdout.write
        proposal = PromotionProposal.objects.get(promotion_run=run)
        items = proposal.items.select_related("product").order_by("rank")
        write(f"Promotions of {run.retailer} for the week of {run.week_start}:")
        write(
            f"  {'#':>3} {'SKU':<14} {'category':<22} {'base':>8} {'promo':>8} {'lift':>6} "
            f"{'+units':>8} {'+margin':>10} {'discount':>9} {'cover':>6} {'gap':>7} {'reach':>6}"
            "  reason"
        )
        for item in items:
            gap = None if item.competitor_gap is None else float(item.competitor_gap)
            write(
                f"  {item.rank:>3} {item.product.sku[:14]:<14} {item.product.category[:22]:<22} "
                f"{item.baseline_units:>8.1f} {item.promoted_units:>8.1f} {item.lift:>6.2f} "
                f"{item.incremental_units:>8.1f} {item.incremental_margin:>10.2f} "
                f"{item.discount_cost:>9.2f} {_num(item.stock_cover, '>6.1f'):>6} "
                f"{_num(gap, '>+7.1%'):>7} {item.reach:>6}  {item.reason}"
            )
        solver, totals = proposal.solver, proposal.totals
        write(
            f"Solver: {solver.get('solver')} status {solver.get('status')}, objective "
            f"{solver.get('objective'):,.2f}; {solver.get('selected')} of K = {solver.get('k')}"
            + (f" ({solver['message']})" if solver.get("message") else "")
        )
        write(f"Excluded: {solver.get('exclusions')}")
        check = solver.get("range_check") or {}
        if check:
            write(
                f"Forecast {check['forecast_units']:,.0f} promoted units (baseline "
                f"{check['baseline_units']:,.0f}) vs these products' best observed week "
                f"{check['observed_max_units']:,.0f}"
                + (" - OUT OF RANGE, check before approving" if check["out_of_range"] else "")
                + (f"; flagged: {', '.join(check['flagged'])}" if check["flagged"] else "")
            )
        comp = (solver.get("forecast") or {}).get("competitor") or {}
        if comp.get("products"):
            write(
                f"Competitor prices move the promoted forecast of {comp['products']:,} products "
                f"by {comp['change']:+.1%} in total (mean {comp['mean_abs_change']:.1%} per "
                "product) against price parity"
            )
        write(
            f"Totals: {totals['items']} products, +{totals['incremental_units']} units, "
            f"+{totals['incremental_revenue']} revenue, +{totals['incremental_margin']} margin, "
            f"{totals['discount_cost']} discount cost ({run.retailer.currency})"
        )
        bt = proposal.backtest
        if bt:
            write(
                f"Backtest #{bt['run_id']}: model WAPE {bt['model_wape']:.3f} (bias "
                f"{bt['model_bias']:+.3f}), naive WAPE {bt['naive_wape']:.3f} (bias "
                f"{bt['naive_bias']:+.3f})"
            )
        seconds = ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items())
        write(f"Seconds: {seconds}")
        self.stdout.write(
            self.style.SUCCESS(f"Promotion run #{run.pk} succeeded: proposal #{proposal.pk}.")
        )
