"""Allocation runs: create (and queue), execute, and write the proposed campaign.

A run goes queued -> running -> succeeded | failed. Executing it reads the scoring run's scores,
the active bonus catalogue and the contact history (``optimizer.frames.allocation``), calls the
pure engine (``optimizer.engine.allocation.allocate``) and writes one proposed
:class:`~campaigns.models.Campaign` with its treated and control members in one transaction.
Re-delivering the task after a crash is safe: the campaign is unique per run, and a crashed
attempt's transaction left nothing behind.

A run that re-runs an existing proposal (``replaces``) supersedes it only when the new solution
is trustworthy (optimal, or proven within the gap tolerance): a solve stopped by its time limit
is stored as its own proposal, marked not optimal, and the last good proposal stays as it was.
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from django.conf import settings as django_settings
from django.db import transaction

from campaigns.models import AuditAction, BonusType, Campaign, CampaignMember, CampaignState
from campaigns.services import audit_record, campaign_supersede
from campaigns.services.checks import type_caps
from loyalty_site.bulk import insert_frame
from optimizer.engine.allocation import (
    ALLOCATED,
    CONTROL,
    STATUS_FEASIBLE,
    STATUS_OPTIMAL,
    AllocationConfig,
    AllocationConstraints,
    AllocationResult,
    InfeasibleAllocation,
    allocate,
)
from optimizer.engine.settings import AllocationSettings, SettingsInvalid
from optimizer.engine.types import EngineInputError
from optimizer.exceptions import AllocationRunAlreadyActive, AllocationSettingsInvalid
from optimizer.frames.allocation import AllocationInputs, allocation_inputs_read
from optimizer.models import AllocationRun, ScoringRun
from optimizer.selectors import scoring_run_latest_succeeded
from optimizer.services.allocation_fanout import fanout_pricing
from optimizer.services.allocation_rules import (
    coupling_inputs,
    coupling_report,
    gap_tolerance_of,
    rules_check,
    rules_of,
    settings_with_retailer_defaults,
)
from optimizer.services.common import StageTimer, json_ready
from retailers.lifecycle import (
    RunKind,
    refusal,
    run_create,
    run_execute,
    run_finish,
    run_stage,
)
from retailers.models import Retailer, RunStatus
from retailers.runs import ACTIVE_STATUSES
from retailers.weeks import week_start_error, week_start_on_or_after

if TYPE_CHECKING:
    from loyalty_site.users import User

TASK = "optimizer.tasks.allocation_run_execute_task"
#: Solver outcomes good enough to replace the proposal a re-run was asked to replace: a solve
#: stopped by its time limit, or finished above the gap tolerance, never silently does.
TRUSTED_STATUSES = (STATUS_OPTIMAL, STATUS_FEASIBLE)


ALLOCATION = RunKind(
    model=AllocationRun,
    task=TASK,
    first_stage="reading scores",
    first_progress=5,
    # A previous attempt that wrote its campaign and died did the work: the campaign is unique
    # per run, so the run is simply marked succeeded.
    prepare=lambda run: Campaign.objects.filter(allocation_run=run).exists(),
)


def default_week_start(as_of: dt.date, week_start_day: int = 0) -> dt.date:
    """The first week start (Monday unless the retailer says otherwise) on or after ``as_of``:
    the campaign week after the scores' date."""
    return week_start_on_or_after(as_of, week_start_day)


def allocation_settings_parse(data: dict[str, Any]) -> AllocationSettings:
    """``data`` (form, command or API values, or a stored row) as checked settings.

    Raises:
        AllocationSettingsInvalid: a bad value, with ``field`` naming it.
    """
    try:
        return AllocationSettings.from_json(data)
    except SettingsInvalid as exc:
        raise AllocationSettingsInvalid(str(exc), field=exc.field) from exc


def _check_catalogue(retailer: Retailer, settings: AllocationSettings) -> None:
    """The checks that need the database: every named bonus type is active at the retailer,
    every store a rule names is the retailer's."""
    active = set(
        BonusType.objects.for_retailer(retailer)
        .filter(is_active=True)
        .values_list("code", flat=True)
    )
    if not active:
        raise AllocationSettingsInvalid(
            f"{retailer} has no active bonus type: configure the catalogue first.",
            field="bonus_types",
        )
    for code in settings.type_caps:
        if code not in active:
            raise AllocationSettingsInvalid(
                f"Cap for {code!r}: no such active bonus type.", field="type_caps"
            )
    for code in settings.bonus_types:
        if code not in active:
            raise AllocationSettingsInvalid(
                f"{code!r} is not an active bonus type.", field="bonus_types"
            )
    rules_check(retailer, settings.coupling or (), active)


@transaction.atomic(durable=True)
def allocation_run_create(
    *,
    retailer: Retailer,
    settings: AllocationSettings,
    scoring_run: ScoringRun | None = None,
    week_start: dt.date | None = None,
    random_state: int = 0,
    time_limit_seconds: int = 120,
    replaces: Campaign | None = None,
    user: User | None = None,
    enqueue: bool = True,
) -> AllocationRun:
    """Create a queued allocation run and queue its execution on the long queue.

    Args:
        retailer: the tenant.
        settings: budget, spend limit, control share and constraints, parsed at the edge
            (:func:`allocation_settings_parse`); coupling rules and gap tolerance left ``None``
            take the retailer's, recorded on the run.
        scoring_run: the scores to allocate on; default the retailer's latest succeeded run.
        week_start: first day of the campaign week, on the retailer's ``week_start_day``;
            default the first such day on or after the scoring run's as-of date.
        random_state: seed of the control group.
        time_limit_seconds: solver time limit.
        replaces: the proposal this run re-does (superseded when the new one is good).
        user: who asked.
        enqueue: queue the task on commit; ``False`` when the caller executes it.

    Raises:
        AllocationRunAlreadyActive: one is queued or running for the retailer.
        AllocationSettingsInvalid: no usable scores, a bad budget, week start or constraint.
    """
    settings = settings_with_retailer_defaults(settings, retailer)
    _check_catalogue(retailer, settings)
    error = week_start and week_start_error(week_start, retailer.week_start_day)
    if error:
        raise AllocationSettingsInvalid(f"Week start: {error}")
    if scoring_run is None:
        scoring_run = scoring_run_latest_succeeded(retailer=retailer)
    if scoring_run is None or scoring_run.status != RunStatus.SUCCEEDED:
        raise AllocationSettingsInvalid(
            f"{retailer} has no succeeded scoring run: score the customers first."
        )
    if scoring_run.retailer_id != retailer.pk:
        raise AllocationSettingsInvalid("That scoring run belongs to another retailer.")
    run = AllocationRun(
        retailer=retailer,
        scoring_run=scoring_run,
        week_start=week_start or default_week_start(scoring_run.as_of, retailer.week_start_day),
        budget=settings.budget,
        spend_limit=settings.spend_limit,
        constraints=settings.constraints_json(),
        control_share=settings.control_share,
        random_state=random_state,
        time_limit_seconds=time_limit_seconds,
        replaces=replaces,
        created_by=user,
    )

    return run_create(
        kind=ALLOCATION,
        run=run,
        active=AllocationRun.objects.for_retailer(retailer).filter(status__in=ACTIVE_STATUSES),
        conflict=refusal(
            AllocationRunAlreadyActive,
            raced=f"an allocation for {retailer} is already queued or running",
            active=lambda other: (
                f"an allocation for {retailer} is already running (run #{other.pk})"
            ),
        ),
        enqueue=enqueue,
    )


def allocation_run_execute(*, run_id: int) -> AllocationRun | None:
    """Execute a queued allocation run; safe to deliver twice (see module docstring).

    Infeasible constraints end the run as failed with a message naming the constraint; any
    other error ends it as failed with the error text. Returns the run afterwards.
    """
    return run_execute(kind=ALLOCATION, run_id=run_id, step=_execute, describe=_describe)


def _execute(run: AllocationRun) -> None:
    timer = StageTimer()
    with timer("read"):
        inputs = allocation_inputs_read(run=run)
    run_stage(run, 30, "solving")
    with timer("solve"):
        result = _solve(run, inputs)
    run_stage(run, 80, "writing the proposal")
    with timer("write"):
        campaign_write(run=run, inputs=inputs, result=result, timings=timer.seconds)


def _describe(exc: Exception) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, InfeasibleAllocation):
        message = f"Infeasible ({exc.constraint}): {exc}"
        return message, {"result": {"constraint": exc.constraint}}
    if isinstance(exc, AllocationSettingsInvalid | EngineInputError):
        return str(exc), {}
    return f"{type(exc).__name__}: {exc}", {}


def _solve(run: AllocationRun, inputs: AllocationInputs) -> AllocationResult:
    if inputs.customers.empty:
        raise AllocationSettingsInvalid("The scoring run has no scored customers.")
    retailer, settings = run.retailer, run.settings
    limit = settings.contact_limit
    customers, coupling = coupling_inputs(run, inputs.customers)
    constraints = AllocationConstraints(
        budget=float(settings.budget),
        type_caps=type_caps(retailer_id=run.retailer_id, run_caps=dict(settings.type_caps)),
        segment_coverage=dict(settings.segment_coverage),
        contact_limit=limit if limit is not None else int(retailer.contact_limit),
        contact_window_weeks=settings.contact_window_weeks or retailer.contact_window_weeks,
        control_share=float(settings.control_share),
        coupling=coupling,
    )
    chunks = int(django_settings.ALLOCATION_PRICING_CHUNKS)
    with ExitStack() as stack:
        pricing = None
        if chunks > 1:  # pricing passes on default-queue workers (docs/allocation.md)
            key = f"run{run.pk}-a{run.attempt}"
            pricing = stack.enter_context(fanout_pricing(chunks=chunks, key=key))
        return allocate(
            customers,
            inputs.response,
            inputs.bonus_types,
            constraints,
            week_start=run.week_start,
            horizon_weeks=run.scoring_run.horizon_weeks,
            random_state=run.random_state,
            time_limit=float(run.time_limit_seconds),
            uplift=inputs.uplift,
            config=AllocationConfig(
                gross_margin_rate=float(retailer.gross_margin_rate) or 0.3,
                gap_tolerance=gap_tolerance_of(run),
            ),
            pricing=pricing,
        )


def _members_frame(
    run: AllocationRun, campaign: Campaign, inputs: AllocationInputs, decisions: pd.DataFrame
) -> pd.DataFrame:
    keep = decisions[decisions["status"].isin([ALLOCATED, CONTROL])]
    treated = (keep["status"] == ALLOCATED).to_numpy()
    margin_rate = float(run.retailer.gross_margin_rate) or 0.3
    value = np.where(treated, keep["expected_value"].to_numpy(dtype=float), 0.0)
    cost = np.where(treated, keep["expected_cost"].to_numpy(dtype=float), 0.0)
    type_ids = keep["bonus_type"].astype("object").map(inputs.bonus_type_ids)

    def day(column: str) -> pd.Series:
        # astype(object): with no one treated, .dt.date of an all-NaT column stays datetime64
        return pd.to_datetime(keep[column]).dt.date.astype(object).where(treated, None)

    return pd.DataFrame(
        {
            "retailer_id": run.retailer_id,
            "campaign_id": campaign.pk,
            "customer_id": keep["customer_id"].to_numpy(dtype="int64"),
            "is_control": ~treated,
            "bonus_type_id": type_ids.astype("Int64").reset_index(drop=True),
            "segment": keep["segment"].astype(str).str.slice(0, 64).to_numpy(),
            "send_on": day("send_on").to_numpy(),
            "expires_on": day("expires_on").to_numpy(),
            "expected_value": np.round(value, 2),
            "expected_cost": np.round(cost, 2),
            "expected_revenue": np.round((value + cost) / margin_rate, 2),
            "redemption_probability": np.round(
                np.where(treated, keep["response_probability"].to_numpy(dtype=float), 0.0), 4
            ),
            "reason": keep["reason"].astype(str).str.slice(0, 255).to_numpy(),
        }
    )


def _summary(result: AllocationResult, members: pd.DataFrame, margin_rate: float) -> dict:
    treated = members[~members["is_control"]]
    cost = float(treated["expected_cost"].sum())
    value = float(treated["expected_value"].sum())
    margin = value + cost
    return json_ready(
        {
            "treated": len(treated),
            "control": int(members["is_control"].sum()),
            "expected_cost": round(cost, 2),
            "expected_incremental_margin": round(margin, 2),
            "expected_incremental_revenue": round(margin / margin_rate, 2),
            "expected_value": round(value, 2),
            "roi": round(value / cost, 3) if cost > 0 else None,
        }
    )


def _redeem_report(run: AllocationRun) -> dict[str, Any]:
    """How P(redeem) was formed, and how it validated on the offer history (scoring holdout)."""
    metrics = run.scoring_run.metrics or {}
    holdout = (metrics.get("holdout") or {}).get("response") or {}
    after = holdout.get("window_adjusted") or {}
    before = holdout.get(after.get("before", "model")) or {}
    keys = ("n", "auc", "brier", "mean_prediction", "base_rate")
    return {
        "rule": "P(redeem) = min(1, p / v_b) x (1 - exp(-window_days / max(days_to_visit, 1)))",
        "visit_reference": (metrics.get("response") or {}).get("visit_reference") or {},
        "holdout_before": {k: before.get(k) for k in keys},
        "holdout_after": {k: after.get(k) for k in keys},
    }


def _solver_report(result: AllocationResult, run: AllocationRun) -> dict[str, Any]:
    return json_ready(
        {
            "redeem_probability": _redeem_report(run),
            "status": result.status,
            "method": result.method,
            "objective": round(result.objective, 2),
            "lp_bound": round(result.lp_bound, 2),
            "gap": result.gap,
            "gap_tolerance": result.gap_tolerance,
            "gap_exceeds_tolerance": result.gap_exceeds_tolerance,
            "budget_shadow_price": round(result.budget_shadow_price, 4),
            "value_of_10pct_more_budget": round(result.value_of_10pct_more_budget, 2),
            "solve_seconds": round(result.solve_seconds, 3),
            "constraints": [c.__dict__ for c in result.constraints],
            "binding": [c.name for c in result.constraints if c.binding],
            "coupling": coupling_report(rules_of(run), result),
            "timings": result.timings,
            "details": result.details,
        }
    )


def _breakdown(result: AllocationResult) -> dict[str, Any]:
    def records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
        out = frame.reset_index().rename(columns={frame.index.name or "index": key})
        return out.to_dict(orient="records")

    return json_ready(
        {
            "by_segment": records(result.by_segment, "segment"),
            "by_bonus_type": records(result.by_bonus_type, "bonus_type"),
        }
    )


@transaction.atomic
def campaign_write(
    *,
    run: AllocationRun,
    inputs: AllocationInputs,
    result: AllocationResult,
    timings: dict[str, float],
) -> Campaign:
    """Write the proposed campaign of ``run`` with its members, and finish the run.

    Supersedes ``run.replaces`` unless the solve was stopped by its time limit.
    """
    locked = AllocationRun.objects.select_for_update(no_key=True).get(pk=run.pk)
    if locked.attempt != run.attempt or locked.status != RunStatus.RUNNING:
        raise AllocationSettingsInvalid("this attempt was taken over by another worker")
    estimators = sorted(
        {str(e) for e in result.decisions["estimator"].astype(str) if e and e != "nan"}
    )
    campaign = Campaign.objects.create(
        retailer_id=run.retailer_id,
        name=f"Week of {run.week_start:%Y-%m-%d} (run #{run.pk})",
        allocation_run=run,
        week_start=run.week_start,
        week_end=run.week_start + dt.timedelta(days=6),
        budget=run.budget,
        spend_limit=run.spend_limit if run.spend_limit is not None else run.budget,
        control_share=run.control_share,
        estimator="; ".join(estimators)[:255] or "model",
        solver=_solver_report(result, run),
        breakdown=_breakdown(result),
        created_by=run.created_by,
    )
    members = _members_frame(run, campaign, inputs, result.decisions)
    insert_frame(CampaignMember, members)
    margin_rate = float(run.retailer.gross_margin_rate) or 0.3
    campaign.totals = _summary(result, members, margin_rate)
    campaign.save(update_fields=["totals"])
    audit_record(
        target=campaign,
        action=AuditAction.PROPOSE,
        actor=run.created_by,
        to_state=CampaignState.PROPOSED,
        data={"allocation_run": run.pk, "solver_status": result.status},
    )
    if run.replaces_id is not None:
        if result.status not in TRUSTED_STATUSES:
            audit_record(
                target=campaign,
                action=AuditAction.NOT_SUPERSEDING,
                comment=(
                    f"The solver ended {result.status} (not proven within the gap tolerance): "
                    f"campaign #{run.replaces_id} stays the current proposal until an approver "
                    "chooses."
                ),
            )
        else:
            campaign_supersede(campaign_id=run.replaces_id, by=campaign, actor=run.created_by)
    locked.result = campaign.solver
    locked.timings = {**timings, "write": timings.get("write", 0.0)}
    run_finish(locked, fields=("result", "timings"), stage=RunStatus.SUCCEEDED)
    return campaign
