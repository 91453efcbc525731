"""``manage.py allocate``: propose a campaign (who gets which bonus, and when) within a budget."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from optimizer.exceptions import AllocationError
from optimizer.services.allocation import (
    allocation_run_create,
    allocation_run_execute,
    allocation_settings_parse,
)
from retailers.models import Retailer, RunStatus
from retailers.weeks import scores_age_note, week_start_error


def _pairs(values: list[str], what: str) -> dict[str, str]:
    """``NAME=VALUE`` items as a mapping; the settings check the values."""
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} must look like NAME=VALUE, got {item!r}")
        out[key] = raw
    return out


class Command(BaseCommand):
    help = (
        "Allocate bonuses for a campaign week from the latest scores within a budget, with "
        "per-type caps, segment coverage minimums and contact limits. Queues a background run "
        "unless --sync. See docs/allocation.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retailer", required=True, help="slug of the retailer")
        parser.add_argument("--budget", required=True, help="expected-cost budget, e.g. 500.00")
        parser.add_argument(
            "--week-start",
            type=date.fromisoformat,
            help="first day of the campaign week (YYYY-MM-DD, on the retailer's week-start day; "
            "default: the first one on or after the scores' date)",
        )
        parser.add_argument(
            "--cap", action="append", default=[], help="per-type cap CODE=N (repeatable)"
        )
        parser.add_argument(
            "--coverage",
            action="append",
            default=[],
            help="minimum share of a segment treated, SEGMENT=0.3 (repeatable)",
        )
        parser.add_argument("--contact-limit", type=int, help="at most N bonuses per customer...")
        parser.add_argument("--contact-weeks", type=int, help="...in this many weeks")
        parser.add_argument("--control-share", default="0.10", help="share held out, 0-0.5")
        parser.add_argument("--spend-limit", help="hard limit on redeemed cost (default budget)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the control group")
        parser.add_argument("--time-limit", type=int, default=120, help="solver seconds")
        parser.add_argument("--sync", action="store_true", help="solve here, not in a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        retailer = Retailer.objects.filter(slug=options["retailer"]).first()
        if retailer is None:
            raise CommandError(f"no retailer with slug {options['retailer']!r}")
        week_start = options["week_start"]
        error = week_start and week_start_error(week_start, retailer.week_start_day)
        if error:
            raise CommandError(f"--week-start {error}")
        sync = options["sync"]
        try:
            settings_ = allocation_settings_parse(
                {
                    "budget": options["budget"],
                    "spend_limit": options["spend_limit"],
                    "control_share": options["control_share"],
                    "type_caps": _pairs(options["cap"], "--cap"),
                    "segment_coverage": _pairs(options["coverage"], "--coverage"),
                    "contact_limit": options["contact_limit"],
                    "contact_window_weeks": options["contact_weeks"],
                }
            )
            run = allocation_run_create(
                retailer=retailer,
                settings=settings_,
                week_start=week_start,
                random_state=options["seed"],
                time_limit_seconds=options["time_limit"],
                enqueue=not sync,
            )
        except (AllocationError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        note = scores_age_note(run.scoring_run.as_of, run.week_start, settings.SCORES_MAX_AGE_WEEKS)
        if note:
            self.stderr.write(self.style.WARNING(f"Warning: {note}"))
        if not sync:
            self.stdout.write(
                f"Queued allocation run #{run.pk} of {retailer} for the week of "
                f"{run.week_start}; a worker of the long queue runs it."
            )
            return
        done = allocation_run_execute(run_id=run.pk)
        if done is None:  # the run row is gone (deleted meanwhile)
            raise CommandError(f"allocation run #{run.pk} no longer exists")
        if done.status != RunStatus.SUCCEEDED:
            raise CommandError(f"allocation run #{done.pk} failed: {done.error}")
        self._report(done)

    def _report(self, run: Any) -> None:
        campaign = run.campaign
        totals, solver = campaign.totals, campaign.solver
        self.stdout.write(
            f"Proposed campaign #{campaign.pk} '{campaign.name}': {totals['treated']:,} customers "
            f"treated, {totals['control']:,} held out as control."
        )
        self.stdout.write(
            f"  expected cost {totals['expected_cost']:,.2f} of budget {campaign.budget:,.2f}; "
            f"expected incremental margin {totals['expected_incremental_margin']:,.2f}; "
            f"ROI {totals['roi']}"
        )
        self.stdout.write(
            f"  solver {solver['status']} ({solver['method']}): objective "
            f"{solver['objective']:,.2f}, LP bound {solver['lp_bound']:,.2f}, gap "
            f"{solver['gap']:.4%}, {solver['solve_seconds']:.1f} s"
        )
        binding = ", ".join(solver["binding"]) or "none"
        self.stdout.write(
            f"  binding constraints: {binding}; one more unit of budget is worth "
            f"{solver['budget_shadow_price']:.3f}, 10% more budget "
            f"{solver['value_of_10pct_more_budget']:,.2f}"
        )
