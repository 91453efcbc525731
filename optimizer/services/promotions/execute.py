"""Promotion runs: the proposal and backtest stages and how their results are written."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from campaigns.models import (
    CURRENT_PROPOSAL_STATES,
    AuditAction,
    PromotionItem,
    PromotionProposal,
    ProposalState,
)
from campaigns.services.audit import audit_record
from campaigns.services.promotions import promotion_proposal_supersede, proposal_totals
from loyalty_site.money import quantize
from optimizer.engine.promotions import (
    InfeasiblePromotion,
    backtest,
    propose_week,
)
from optimizer.exceptions import PromotionWeekDecided
from optimizer.frames.promotions import promotion_frames_read
from optimizer.models import PromotionRun
from optimizer.services.common import Progress, StageTimer, json_ready
from optimizer.services.promotions.config import (
    RANDOM_STATE,
    forecast_config,
    max_products,
    selection_config,
)
from retailers.lifecycle import run_finish, run_stage
from retailers.models import Product, Retailer, RunStatus


def _product_ids(retailer: Retailer, skus: list[str], what: str) -> list[int]:
    found = dict(
        Product.objects.for_retailer(retailer).filter(sku__in=skus).values_list("sku", "id")
    )
    missing = [s for s in skus if s not in found]
    if missing:
        raise InfeasiblePromotion("pin", f"{what} SKU(s) {missing} are not products of {retailer}")
    return [found[s] for s in skus]


#: Per-week figures a proposal keeps from its backtest (shown on the proposal page).
BACKTEST_WEEK_KEYS = (
    "week_start",
    "event",
    "n_promoted",
    "actual_units",
    "model_wape",
    "model_bias",
    "naive_wape",
    "naive_bias",
    "parity_wape",
)


def latest_backtest(*, retailer: Retailer) -> dict[str, Any]:
    """Summary of the retailer's latest succeeded backtest (``{}`` without one)."""
    run = (
        PromotionRun.objects.for_retailer(retailer)
        .filter(kind=PromotionRun.Kind.BACKTEST, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )
    if run is None:
        return {}
    keys = ("model_wape", "model_bias", "naive_wape", "naive_bias", "n_weeks", "n_product_weeks")
    summary = {k: run.result.get(k) for k in keys}
    weeks = [{k: week.get(k) for k in BACKTEST_WEEK_KEYS} for week in run.result.get("weeks") or []]
    competitor = (run.result.get("metrics") or {}).get("competitor")
    return {
        **summary,
        "weeks": weeks,
        "competitor": competitor,
        "run_id": run.pk,
        "week_start": _week(run).isoformat(),
    }


def execute_proposal_stage(run: PromotionRun, progress: Progress | None) -> None:
    timer, retailer, options = StageTimer(), run.retailer, run.settings
    config = forecast_config(retailer=retailer)
    run_stage(run, 2, "reading data", progress)
    with timer("read"):
        pinned = _product_ids(retailer, list(options.pinned), "pinned")
        banned = _product_ids(retailer, list(options.banned), "banned")
        frames = promotion_frames_read(
            retailer=retailer,
            week_start=_week(run),
            history_weeks=config.train_weeks + config.long_window + 1,
            max_products=max_products(),
            pinned=pinned,
            segments=None if options.segments is None else list(options.segments),
            recent_weeks=options.recent_weeks,
            # the whole training window: a model trained on rows without competitor prices
            # could not learn what the target rows' prices mean
            competitor_max_age_weeks=config.train_weeks + config.long_window + 1,
        )
    run_stage(run, 30, f"forecasting {len(frames.products):,} products and selecting", progress)
    with timer("forecast_select"):
        result = propose_week(
            panel=frames.panel,
            products=frames.products,
            week_start=_week(run),
            inventory=frames.inventory,
            competitor_prices=frames.competitor_prices,
            reach=frames.reach,
            pinned=pinned,
            banned=banned,
            recent_promotions=frames.recent_promotions,
            forecast_config=config,
            selection_config=selection_config(retailer=retailer, settings=options),
            random_state=RANDOM_STATE,
            time_limit=float(getattr(settings, "PROMOTION_SOLVER_TIME_LIMIT", 20)),
        )
    run_stage(run, 90, "writing the proposal", progress)
    _write_proposal(run, result, frames.counts, pinned, timer)


def _dec(value: Any, places: int, limit: float | None = None) -> Decimal | None:
    """A float as a ``Decimal`` of ``places`` decimals (``None`` for NaN), clipped to ``limit``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    number = float(value)
    if limit is not None:
        number = max(-limit, min(limit, number))
    return Decimal(f"{number:.{places}f}")


def _required(value: Decimal | None, field: str) -> Decimal:
    """``value`` of a column the item must have (the forecast fills it for every selection)."""
    if value is None:
        raise ValueError(f"the forecast left {field} empty for a selected product")
    return value


def _week(run: PromotionRun) -> dt.date:
    """The run's week: proposal and backtest runs are always created with one (the column is
    nullable in the model, so the type says ``date | None``)."""
    if run.week_start is None:
        raise ValueError(f"promotion run #{run.pk} has no week")
    return run.week_start


def _items(run: PromotionRun, proposal: PromotionProposal, selected: Any) -> list[PromotionItem]:
    items = []
    for rank, row in enumerate(selected.itertuples(index=False), start=1):
        on_hand = None if math.isnan(row.on_hand) else round(row.on_hand)
        items.append(
            PromotionItem(
                retailer=run.retailer,
                proposal=proposal,
                product_id=int(row.product_id),
                rank=rank,
                pinned=bool(row.pinned),
                discount_rate=_required(_dec(row.promo_depth, 4, 0.9999), "discount_rate"),
                baseline_units=_required(_dec(row.baseline_units, 2), "baseline_units"),
                promoted_units=_required(_dec(row.promoted_units, 2), "promoted_units"),
                lift=_required(_dec(row.lift, 3, 99999), "lift"),
                incremental_units=_required(_dec(row.incremental_units, 2), "incremental_units"),
                incremental_revenue=quantize(row.incremental_revenue),
                incremental_margin=quantize(row.incremental_margin),
                discount_cost=quantize(row.discount_cost),
                on_hand=on_hand,
                stock_cover=_dec(row.stock_cover, 2, 999999),
                competitor_gap=_dec(row.competitor_gap, 4, 99.9999),
                reach=int(row.reach or 0),
                reason=str(row.reason)[:255],
            )
        )
    return items


def _write_proposal(
    run: PromotionRun, result: Any, counts: dict[str, Any], pinned: list[int], timer: StageTimer
) -> None:
    started = time.perf_counter()
    selection, forecast = result.selection, result.forecast
    solver = {
        "solver": selection.solver,
        "status": selection.solver_status,
        "objective": selection.objective,
        "k": selection.k,
        "selected": selection.n_selected,
        "message": selection.message,
        "exclusions": selection.counts,
        "forecast": forecast.metrics,
        "range_check": result.checks,
        "inputs": counts,
    }
    label = "schedule" if run.trigger == "schedule" else ""
    with transaction.atomic():
        locked = PromotionRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        if locked.attempt != run.attempt or locked.status != RunStatus.RUNNING:
            return  # failed or taken over meanwhile: this attempt's work is void
        current = (
            PromotionProposal.objects.select_for_update()
            .filter(retailer=run.retailer, week_start=_week(run))
            .filter(state__in=CURRENT_PROPOSAL_STATES)
            .first()
        )
        if current is not None and current.state == ProposalState.APPROVED:
            raise PromotionWeekDecided(
                f"the week of {_week(run)} was approved meanwhile (proposal #{current.pk})"
            )
        if current is not None:
            promotion_proposal_supersede(
                proposal_id=current.pk, by_run_id=run.pk, actor=run.created_by, actor_label=label
            )
        proposal = PromotionProposal.objects.create(
            retailer=run.retailer,
            promotion_run=locked,
            week_start=_week(run),
            options=run.options,
            solver=json_ready(solver),
            backtest=latest_backtest(retailer=run.retailer),
            notes=selection.message,
            created_by=run.created_by,
        )
        items = PromotionItem.objects.bulk_create(_items(run, proposal, selection.selected))
        proposal.totals = {**proposal_totals(items), "objective": selection.objective}
        proposal.save(update_fields=["totals"])
        audit_record(
            target=proposal,
            action=AuditAction.PROPOSE,
            actor=run.created_by,
            actor_label=label,
            to_state=ProposalState.PROPOSED,
            data={"run": run.pk, "items": len(items), "pinned": pinned},
        )
        locked.result = json_ready({**solver, "proposal": proposal.pk, "totals": proposal.totals})
        locked.timings = _timings(timer, write=time.perf_counter() - started)
        run_finish(locked, fields=("result", "timings"), stage="done")


def _timings(timer: StageTimer, **extra: float) -> dict[str, float]:
    seconds = {**timer.seconds, **{k: round(v, 3) for k, v in extra.items()}}
    return {**seconds, "total": round(sum(seconds.values()), 3)}


def execute_backtest_stage(run: PromotionRun, progress: Progress | None) -> None:
    timer, retailer = StageTimer(), run.retailer
    weeks = run.settings.backtest_weeks
    config = forecast_config(retailer=retailer, backtest_weeks=weeks)
    run_stage(run, 2, "reading data", progress)
    with timer("read"):
        frames = promotion_frames_read(
            retailer=retailer,
            week_start=_week(run),
            history_weeks=config.train_weeks + config.long_window + weeks + 1,
            max_products=max_products(),
            rank_weeks=weeks + config.long_window,
            competitor_max_age_weeks=config.train_weeks + config.long_window + weeks + 1,
            with_stock=False,
        )
    run_stage(run, 20, f"replaying {weeks} weeks of {len(frames.products):,} products", progress)
    with timer("backtest"):
        outcome = backtest(
            panel=frames.panel,
            products=frames.products,
            competitor_prices=frames.competitor_prices,
            config=replace(config, backtest_weeks=weeks),
            random_state=RANDOM_STATE,
            last_week=_week(run) - dt.timedelta(weeks=1),
        )
    table = outcome.weeks.assign(week_start=outcome.weeks["week_start"].dt.date.astype("str"))
    result = {
        "model_wape": outcome.model_wape,
        "model_bias": outcome.model_bias,
        "naive_wape": outcome.naive_wape,
        "naive_bias": outcome.naive_bias,
        "n_weeks": outcome.n_weeks,
        "n_product_weeks": outcome.n_product_weeks,
        "actual_units": outcome.actual_units,
        "retrain_every": outcome.retrain_every,
        "weeks": table.to_dict("records"),
        "metrics": outcome.metrics,
        "inputs": frames.counts,
    }
    with transaction.atomic():
        locked = PromotionRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        if locked.attempt != run.attempt or locked.status != RunStatus.RUNNING:
            return
        locked.result = json_ready(result)
        locked.timings = _timings(timer)
        run_finish(locked, fields=("result", "timings"), stage="done")
