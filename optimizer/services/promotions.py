"""Weekly promotion runs: create (and queue), execute (proposal or backtest), schedule.

A :class:`~optimizer.models.PromotionRun` goes queued -> running -> succeeded | failed. A
*proposal* run reads the retailer's frames (``optimizer.frames.promotions``), calls the pure
engine's ``propose_week`` and writes one ``PromotionProposal`` with its items in one
transaction; the week's current proposal (still proposed) is superseded, audited, in that same
transaction, so only a run that succeeds replaces anything. A *backtest* run replays the last
weeks and stores WAPE and bias (model and naive rule) in ``run.result``; later proposals copy the
latest succeeded backtest into their ``backtest`` JSON so that staff see how far to trust them.

Each retailer has one weekly django-q2 schedule (:func:`promotion_schedules_sync`) that calls
``promotion_run_create(trigger="schedule")`` for the coming week; a schedule that fires twice for
a week that already has a current proposal (or an active run) does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from campaigns.models import (
    CURRENT_PROPOSAL_STATES,
    PromotionItem,
    PromotionProposal,
    ProposalState,
)
from campaigns.services.audit import audit_record
from campaigns.services.promotions import promotion_proposal_supersede, proposal_totals
from customers.models import Transaction
from loyalty_site.money import quantize
from optimizer.engine.promotions import (
    ForecastConfig,
    InfeasiblePromotion,
    SelectionConfig,
    backtest,
    propose_week,
)
from optimizer.frames.promotions import promotion_frames_read
from optimizer.models import ACTIVE_STATUSES, PromotionRun
from optimizer.services.common import Progress, StageTimer, json_ready, run_is_abandoned
from retailers.models import Product, Retailer, RunStatus

logger = logging.getLogger(__name__)

EXECUTE_TASK = "optimizer.tasks.promotion_run_execute_task"
SCHEDULE_TASK = "optimizer.tasks.promotion_schedule_task"
SCHEDULE_PREFIX = "weekly-promotions:"
RANDOM_STATE = 0
#: Options of a run and their defaults (see ``docs/promotions.md``, "Running it").
DEFAULT_OPTIONS: dict[str, Any] = {
    "k": 20,
    "max_per_category": 3,
    "discount_budget": None,
    "recent_weeks": 4,
    "pinned": [],
    "banned": [],
    "segments": None,
    "backtest_weeks": 12,
}
#: Holiday calendar of the engine per retailer time zone (others: no holiday features).
ZONE_COUNTRIES = {"Europe/London": "GB", "Europe/Berlin": "DE", "Europe/Paris": "FR"} | {
    "Europe/Amsterdam": "NL"
}
US_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


class PromotionError(Exception):
    """Base class of the promotion-run errors a person can act on."""


class PromotionRunAlreadyActive(PromotionError):
    """A run of this kind for this week is already queued or running."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class PromotionWeekDecided(PromotionError):
    """The week already has an approved proposal: it is not proposed again."""


# --- Options, weeks, configs -------------------------------------------------------------------
def monday_after(day: dt.date) -> dt.date:
    """The first Monday strictly after ``day``."""
    return day + dt.timedelta(days=7 - day.weekday())


def iso_week_monday(text: str) -> dt.date:
    """The Monday of an ISO week written ``YYYY-Www`` (``2018-W01`` -> 2018-01-01).

    Raises:
        ValueError: not a valid ISO week.
    """
    year, _, week = text.strip().upper().partition("-W")
    try:
        return dt.date.fromisocalendar(int(year), int(week), 1)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO week such as 2018-W01") from exc


def promotion_default_week(*, retailer: Retailer, now: dt.datetime | None = None) -> dt.date:
    """The week to propose: the Monday after today (retailer's time zone); for historical data
    (latest transaction more than 2 weeks before today) the Monday after that transaction."""
    today = (now or timezone.now()).astimezone(retailer.tz).date()
    latest = Transaction.objects.for_retailer(retailer).aggregate(m=Max("timestamp"))["m"]
    if latest is not None:
        last_day = latest.astimezone(retailer.tz).date()
        if last_day < today - dt.timedelta(weeks=2):
            return monday_after(last_day)
    return monday_after(today)


def _int(options: dict[str, Any], name: str, low: int, high: int, errors: dict) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[name] = f"{name} must be a whole number."
        return None
    if not low <= number <= high:
        errors[name] = f"{name} must lie between {low} and {high}."
    return number


def _skus(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return sorted({str(v).strip() for v in value if str(v).strip()})


def promotion_options_clean(*, retailer: Retailer, options: dict[str, Any] | None) -> dict:
    """Defaults filled in and every option checked; SKUs must be the retailer's products.

    Raises:
        ValidationError: a value is out of range or a SKU is unknown (message per option).
    """
    merged = {**DEFAULT_OPTIONS, **{k: v for k, v in (options or {}).items() if v is not None}}
    if options and "max_per_category" in options and options["max_per_category"] is None:
        merged["max_per_category"] = None
    errors: dict[str, str] = {}
    merged["k"] = _int(merged, "k", 1, 500, errors)
    merged["max_per_category"] = _int(merged, "max_per_category", 1, 500, errors)
    merged["recent_weeks"] = _int(merged, "recent_weeks", 0, 52, errors)
    merged["backtest_weeks"] = _int(merged, "backtest_weeks", 1, 52, errors)
    if merged["discount_budget"] is not None:
        try:
            budget = quantize(merged["discount_budget"])
        except ValueError:
            budget = Decimal(-1)
        if budget < 0:
            errors["discount_budget"] = "The discount budget must be an amount of at least 0."
        merged["discount_budget"] = str(budget)
    merged["pinned"], merged["banned"] = _skus(merged["pinned"]), _skus(merged["banned"])
    known = set(
        Product.objects.for_retailer(retailer)
        .filter(sku__in=merged["pinned"] + merged["banned"])
        .values_list("sku", flat=True)
    )
    for name in ("pinned", "banned"):
        unknown = [s for s in merged[name] if s not in known]
        if unknown:
            errors[name] = f"Unknown SKU(s) at {retailer}: {', '.join(unknown)}."
    if merged["segments"] is not None:
        merged["segments"] = sorted({str(s) for s in merged["segments"]})
    if errors:
        raise ValidationError(errors)
    return merged


def forecast_config(*, retailer: Retailer, **overrides: Any) -> ForecastConfig:
    """Engine defaults, ``settings.PROMOTION_FORECAST_CONFIG`` and the holiday calendar of the
    retailer's time zone (US zones, London, Berlin, Paris, Amsterdam; else none)."""
    country = "US" if retailer.time_zone in US_ZONES else ZONE_COUNTRIES.get(retailer.time_zone)
    values = {"holiday_country": country, **getattr(settings, "PROMOTION_FORECAST_CONFIG", {})}
    return ForecastConfig(**{**values, **overrides})


def selection_config(*, retailer: Retailer, options: dict[str, Any]) -> SelectionConfig:
    """The MILP's settings from a run's (cleaned) options."""
    budget = options.get("discount_budget")
    return SelectionConfig(
        k=options["k"],
        max_per_category=options["max_per_category"],
        discount_budget=None if budget is None else float(budget),
        recent_weeks=options["recent_weeks"],
        currency_symbol=CURRENCY_SYMBOLS.get(retailer.currency, f"{retailer.currency} "),
    )


def max_products() -> int:
    """Candidates per proposal (``settings.PROMOTION_MAX_PRODUCTS``, default 3,000)."""
    return int(getattr(settings, "PROMOTION_MAX_PRODUCTS", 3000))


# --- Create ------------------------------------------------------------------------------------
def current_proposal(*, retailer: Retailer, week_start: dt.date) -> PromotionProposal | None:
    """The week's proposed or approved proposal, if any."""
    return (
        PromotionProposal.objects.for_retailer(retailer)
        .filter(week_start=week_start, state__in=CURRENT_PROPOSAL_STATES)
        .first()
    )


def _active(retailer: Retailer, kind: str, week_start: dt.date) -> PromotionRun | None:
    runs = PromotionRun.objects.for_retailer(retailer).filter(kind=kind, week_start=week_start)
    return runs.filter(status__in=ACTIVE_STATUSES).first()


def _enqueue(run_id: int) -> None:
    async_task(EXECUTE_TASK, run_id, cluster=settings.LONG_TASK_CLUSTER)


@transaction.atomic
def promotion_run_create(
    *,
    retailer: Retailer,
    week_start: dt.date | None = None,
    options: dict[str, Any] | None = None,
    kind: str = PromotionRun.Kind.PROPOSAL,
    trigger: str = "manual",
    user: Any = None,
    enqueue: bool = True,
    now: dt.datetime | None = None,
) -> PromotionRun | None:
    """Create a queued promotion run and queue its execution on the long queue (on commit).

    Args:
        retailer: the tenant.
        week_start: Monday of the week to propose (a backtest replays the weeks before it);
            default :func:`promotion_default_week`.
        options: ``k``, ``max_per_category`` (``None``: no cap), ``discount_budget``,
            ``recent_weeks``, ``pinned`` / ``banned`` (SKUs), ``segments`` (target segments of
            the reach; ``None``: all customers), ``backtest_weeks``; see :data:`DEFAULT_OPTIONS`.
        kind: ``"proposal"`` or ``"backtest"``.
        trigger: ``"manual"``, ``"schedule"`` or ``"command"``.
        user: who asked (``created_by``; four eyes compare the approver with it).
        enqueue: ``False`` for callers that execute the run themselves (``--sync``).

    Returns:
        The run; ``None`` when ``trigger="schedule"`` and the week already has a current
        proposal or an active run (the schedule fired twice: nothing to do).

    Raises:
        PromotionRunAlreadyActive: a run of this kind for the week is queued or running.
        PromotionWeekDecided: the week's proposal is already approved.
        ValidationError: bad options, SKUs or a week that is not a Monday.
    """
    week = week_start or promotion_default_week(retailer=retailer, now=now)
    if week.weekday() != 0:
        raise ValidationError({"week_start": f"{week} is not a Monday."})
    cleaned = promotion_options_clean(retailer=retailer, options=options)
    scheduled = trigger == "schedule"
    if kind == PromotionRun.Kind.PROPOSAL:
        current = current_proposal(retailer=retailer, week_start=week)
        if current is not None and scheduled:
            return None
        if current is not None and current.state == ProposalState.APPROVED:
            raise PromotionWeekDecided(f"the week of {week} already has an approved proposal")
    active = _active(retailer, kind, week)
    if active is not None and run_is_abandoned(active):
        _fail(active, "abandoned: no worker reported progress within the long queue's timeout")
        active = None
    if active is not None:
        if scheduled:
            return None
        raise PromotionRunAlreadyActive(
            f"promotion {kind} run #{active.pk} for the week of {week} is {active.status}",
            run_id=active.pk,
        )
    run = PromotionRun(
        retailer=retailer,
        kind=kind,
        week_start=week,
        options=cleaned,
        trigger=trigger,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        stage="queued",
    )
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError as exc:
        if scheduled:
            return None
        raise PromotionRunAlreadyActive(
            f"a promotion {kind} run for the week of {week} is already queued or running"
        ) from exc
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


# --- Execute -----------------------------------------------------------------------------------
RESTART_FIELDS = ["attempt", "status", "started_at", "heartbeat_at", "finished_at", "progress"]
RESTART_FIELDS += ["stage", "error", "result", "timings"]


def _fail(run: PromotionRun, message: str, result: dict[str, Any] | None = None) -> None:
    run.status, run.error, run.stage = RunStatus.FAILED, message, "failed"
    run.finished_at = timezone.now()
    run.result = result or run.result
    run.save(update_fields=["status", "error", "stage", "finished_at", "result"])


def promotion_run_fail(
    *, run_id: int, attempt: int, message: str, result: dict[str, Any] | None = None
) -> bool:
    """Fail attempt ``attempt`` of a running run; ``False`` if it finished or moved on."""
    with transaction.atomic():
        run = PromotionRun.objects.select_for_update(no_key=True).filter(pk=run_id).first()
        if run is None or run.attempt != attempt or run.status != RunStatus.RUNNING:
            return False
        _fail(run, message, result)
    return True


def _claim(run_id: int) -> tuple[PromotionRun | None, bool]:
    """Lock the run and start a new attempt if it is queued or abandoned."""
    with transaction.atomic():
        run = PromotionRun.objects.select_for_update(no_key=True).filter(pk=run_id).first()
        if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return run, False
        now = timezone.now()
        if run.status == RunStatus.RUNNING and not run_is_abandoned(run, now):
            return run, False
        run.attempt += 1
        run.status, run.started_at, run.heartbeat_at, run.finished_at = (
            RunStatus.RUNNING,
            now,
            now,
            None,
        )
        run.progress, run.stage, run.error, run.result, run.timings = 0, "reading data", "", {}, {}
        run.save(update_fields=RESTART_FIELDS)
    return run, True


def _say(run: PromotionRun, percent: int, stage: str, progress: Progress | None) -> None:
    PromotionRun.objects.filter(pk=run.pk, attempt=run.attempt).update(
        progress=percent, stage=stage[:100], heartbeat_at=timezone.now()
    )
    if progress is not None:
        progress(percent, stage)


def promotion_run_execute(*, run_id: int, progress: Progress | None = None) -> PromotionRun | None:
    """Execute a queued run (proposal or backtest); safe to deliver twice.

    A finished run is returned untouched, and so is one running on a live worker. Infeasible
    settings fail the run with the engine's message naming the constraint (``result`` holds
    ``constraint``); any other error fails it with the error text. Nothing else changes then:
    the week's current proposal stays as it was.

    Returns:
        The run as it is afterwards (``None`` if it does not exist).
    """
    run, started = _claim(run_id)
    if run is None or not started:
        return run
    try:
        if run.kind == PromotionRun.Kind.BACKTEST:
            _execute_backtest(run, progress)
        else:
            _execute_proposal(run, progress)
    except InfeasiblePromotion as exc:
        message = f"Infeasible settings ({exc.constraint} constraint): {exc}"
        promotion_run_fail(
            run_id=run_id,
            attempt=run.attempt,
            message=message,
            result={"constraint": exc.constraint},
        )
    except Exception as exc:
        logger.exception("promotion run %s failed", run_id)
        promotion_run_fail(
            run_id=run_id, attempt=run.attempt, message=f"{type(exc).__name__}: {exc}"
        )
    return PromotionRun.objects.get(pk=run_id)


def _product_ids(retailer: Retailer, skus: list[str], what: str) -> list[int]:
    found = dict(
        Product.objects.for_retailer(retailer).filter(sku__in=skus).values_list("sku", "id")
    )
    missing = [s for s in skus if s not in found]
    if missing:
        raise InfeasiblePromotion("pin", f"{what} SKU(s) {missing} are not products of {retailer}")
    return [found[s] for s in skus]


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
    return {**summary, "run_id": run.pk, "week_start": run.week_start.isoformat()}


def _execute_proposal(run: PromotionRun, progress: Progress | None) -> None:
    timer, retailer, options = StageTimer(), run.retailer, run.options
    config = forecast_config(retailer=retailer)
    _say(run, 2, "reading data", progress)
    with timer("read"):
        pinned = _product_ids(retailer, options["pinned"], "pinned")
        banned = _product_ids(retailer, options["banned"], "banned")
        frames = promotion_frames_read(
            retailer=retailer,
            week_start=run.week_start,
            history_weeks=config.train_weeks + config.long_window + 1,
            max_products=max_products(),
            pinned=pinned,
            segments=options.get("segments"),
            recent_weeks=options["recent_weeks"],
            competitor_max_age_weeks=config.competitor_max_age_weeks,
        )
    _say(run, 30, f"forecasting {len(frames.products):,} products and selecting", progress)
    with timer("forecast_select"):
        result = propose_week(
            panel=frames.panel,
            products=frames.products,
            week_start=run.week_start,
            inventory=frames.inventory,
            competitor_prices=frames.competitor_prices,
            reach=frames.reach,
            pinned=pinned,
            banned=banned,
            recent_promotions=frames.recent_promotions,
            forecast_config=config,
            selection_config=selection_config(retailer=retailer, options=options),
            random_state=RANDOM_STATE,
            time_limit=float(getattr(settings, "PROMOTION_SOLVER_TIME_LIMIT", 20)),
        )
    _say(run, 90, "writing the proposal", progress)
    _write_proposal(run, result, frames.counts, pinned, timer)


def _dec(value: Any, places: int, limit: float | None = None) -> Decimal | None:
    """A float as a ``Decimal`` of ``places`` decimals (``None`` for NaN), clipped to ``limit``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    number = float(value)
    if limit is not None:
        number = max(-limit, min(limit, number))
    return Decimal(f"{number:.{places}f}")


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
                discount_rate=_dec(row.promo_depth, 4, 0.9999),
                baseline_units=_dec(row.baseline_units, 2),
                promoted_units=_dec(row.promoted_units, 2),
                lift=_dec(row.lift, 3, 99999),
                incremental_units=_dec(row.incremental_units, 2),
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
        "inputs": counts,
    }
    label = "schedule" if run.trigger == "schedule" else ""
    with transaction.atomic():
        locked = PromotionRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        if locked.attempt != run.attempt or locked.status != RunStatus.RUNNING:
            return  # failed or taken over meanwhile: this attempt's work is void
        current = (
            PromotionProposal.objects.select_for_update()
            .filter(retailer=run.retailer, week_start=run.week_start)
            .filter(state__in=CURRENT_PROPOSAL_STATES)
            .first()
        )
        if current is not None and current.state == ProposalState.APPROVED:
            raise PromotionWeekDecided(
                f"the week of {run.week_start} was approved meanwhile (proposal #{current.pk})"
            )
        if current is not None:
            promotion_proposal_supersede(
                proposal_id=current.pk, by_run_id=run.pk, actor=run.created_by, actor_label=label
            )
        proposal = PromotionProposal.objects.create(
            retailer=run.retailer,
            promotion_run=locked,
            week_start=run.week_start,
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
            action="propose",
            actor=run.created_by,
            actor_label=label,
            to_state=ProposalState.PROPOSED,
            data={"run": run.pk, "items": len(items), "pinned": pinned},
        )
        locked.status, locked.progress, locked.stage = RunStatus.SUCCEEDED, 100, "done"
        locked.finished_at = timezone.now()
        locked.result = json_ready({**solver, "proposal": proposal.pk, "totals": proposal.totals})
        locked.timings = _timings(timer, write=time.perf_counter() - started)
        locked.save(
            update_fields=["status", "progress", "stage", "finished_at", "result", "timings"]
        )


def _timings(timer: StageTimer, **extra: float) -> dict[str, float]:
    seconds = {**timer.seconds, **{k: round(v, 3) for k, v in extra.items()}}
    return {**seconds, "total": round(sum(seconds.values()), 3)}


def _execute_backtest(run: PromotionRun, progress: Progress | None) -> None:
    timer, retailer = StageTimer(), run.retailer
    weeks = run.options.get("backtest_weeks") or 12
    config = forecast_config(retailer=retailer, backtest_weeks=weeks)
    _say(run, 2, "reading data", progress)
    with timer("read"):
        frames = promotion_frames_read(
            retailer=retailer,
            week_start=run.week_start,
            history_weeks=config.train_weeks + config.long_window + weeks + 1,
            max_products=max_products(),
            rank_weeks=weeks + config.long_window,
            competitor_max_age_weeks=config.competitor_max_age_weeks + weeks,
            with_stock=False,
        )
    _say(run, 20, f"replaying {weeks} weeks of {len(frames.products):,} products", progress)
    with timer("backtest"):
        outcome = backtest(
            panel=frames.panel,
            products=frames.products,
            competitor_prices=frames.competitor_prices,
            config=replace(config, backtest_weeks=weeks),
            random_state=RANDOM_STATE,
            last_week=run.week_start - dt.timedelta(weeks=1),
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
        locked.status, locked.progress, locked.stage = RunStatus.SUCCEEDED, 100, "done"
        locked.finished_at = timezone.now()
        locked.result = json_ready(result)
        locked.timings = _timings(timer)
        locked.save(
            update_fields=["status", "progress", "stage", "finished_at", "result", "timings"]
        )


# --- Schedules ---------------------------------------------------------------------------------
def promotion_schedule_name(retailer: Retailer) -> str:
    """The django-q2 schedule name of a retailer's weekly proposal."""
    return f"{SCHEDULE_PREFIX}{retailer.slug}"


def promotion_schedule_next_run(
    *, retailer: Retailer, now: dt.datetime | None = None
) -> dt.datetime:
    """The next ``promotion_weekday`` at ``promotion_hour`` (retailer's time) after ``now``, UTC."""
    local = (now or timezone.now()).astimezone(retailer.tz)
    day = local.date() + dt.timedelta(days=(retailer.promotion_weekday - local.weekday()) % 7)
    when = dt.datetime.combine(day, dt.time(retailer.promotion_hour), tzinfo=retailer.tz)
    if when <= local:
        when = dt.datetime.combine(
            day + dt.timedelta(weeks=1), dt.time(retailer.promotion_hour), tzinfo=retailer.tz
        )
    return when.astimezone(dt.UTC)


def promotion_schedules_sync(
    *, retailers: Any = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """One weekly django-q2 ``Schedule`` per retailer (``update_or_create`` by name); schedules
    of retailers that no longer exist are deleted. Running it twice changes nothing.

    Returns counts: ``created``, ``updated``, ``unchanged``, ``deleted``.
    """
    counts = dict.fromkeys(("created", "updated", "unchanged", "deleted"), 0)
    every = retailers is None
    retailers = list(Retailer.objects.all() if every else retailers)
    for retailer in retailers:
        wanted = {
            "func": SCHEDULE_TASK,
            "args": repr((retailer.pk,)),
            "kwargs": None,
            "schedule_type": Schedule.WEEKLY,
            "repeats": -1,
            "next_run": promotion_schedule_next_run(retailer=retailer, now=now),
        }
        name = promotion_schedule_name(retailer)
        existing = Schedule.objects.filter(name=name).first()
        if existing is not None and all(getattr(existing, k) == v for k, v in wanted.items()):
            counts["unchanged"] += 1
            continue
        _, created = Schedule.objects.update_or_create(name=name, defaults=wanted)
        counts["created" if created else "updated"] += 1
    if every:
        names = [promotion_schedule_name(r) for r in retailers]
        stale = Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).exclude(name__in=names)
        counts["deleted"] = stale.delete()[0]
    return counts
