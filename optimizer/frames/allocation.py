"""Allocation inputs: a scoring run's scores, the bonus catalogue, contact history and uplift.

Reads everything :func:`optimizer.engine.allocation.allocate` needs in bulk (COPY)
and nothing else: the engine sees plain frames, never the ORM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from campaigns.models import BonusKind, BonusType, Campaign, CampaignMember, CampaignState
from optimizer import queries
from optimizer.frames.common import query_frame
from optimizer.models import AllocationRun
from retailers.models import Retailer

#: Campaign states whose treated members count against the contact limit.
CONTACTED_STATES = (CampaignState.APPROVED, CampaignState.ISSUED, CampaignState.CLOSED)


@dataclass(frozen=True, eq=False)
class AllocationInputs:
    """The frames of one allocation run (columns as :func:`allocate` documents them)."""

    customers: pd.DataFrame
    response: pd.DataFrame
    bonus_types: pd.DataFrame
    uplift: pd.DataFrame | None
    bonus_type_ids: dict[str, int]
    mean_basket: float


def _customers(run: AllocationRun) -> pd.DataFrame:
    scoring = run.scoring_run
    names = [
        "customer_id", "segment", "churn_probability", "expected_visits", "expected_spend",
        "clv", "recency_days", "frequency_52w", "avg_basket", "marketing_consent",
    ]  # fmt: skip
    floats = {n: "float64" for n in names[2:9]}
    dtypes = {"customer_id": "int64", **floats}
    frame = query_frame(queries.run_scores(), run.retailer_id, {"run": scoring.pk}, names, dtypes)
    frame = frame.astype({"customer_id": "int64", "segment": "str", **floats})
    consent = frame["marketing_consent"]
    if consent.dtype != bool:
        consent = consent.map(lambda v: v in (True, 1, "t", "true", "True"))
    frame["marketing_consent"] = consent.astype(bool)
    shift = (run.week_start - scoring.as_of).days
    frame["days_since_last_visit"] = frame["recency_days"] + max(shift, 0)
    visits = frame["frequency_52w"].to_numpy()
    frame["usual_gap_days"] = np.where(visits >= 2, 364.0 / np.maximum(visits, 1), np.nan)
    frame["recent_bonuses"] = _recent_bonuses(run, frame["customer_id"])
    return frame.drop(columns=["recency_days", "frequency_52w"])


def _recent_bonuses(run: AllocationRun, customer_ids: pd.Series) -> np.ndarray:
    """Per customer, the most bonuses of other campaigns in any window of M weeks that also
    holds this campaign's week: earlier *and later-dated* campaigns count.

    "At most N in M weeks" must hold for every M-week window, so a bonus this week is allowed
    only while each window of ``7 M`` days containing ``week_start`` has fewer than N others.
    Campaigns are placed at their ``week_start``. The maximum over windows is reached at a
    window that starts on one of the campaigns (or at ``week_start`` itself), so only those
    starts are tried.
    """
    weeks = run.settings.contact_window_weeks or run.retailer.contact_window_weeks
    span = 7 * weeks
    rows = list(
        CampaignMember.objects.filter(
            retailer_id=run.retailer_id,
            is_control=False,
            campaign__state__in=CONTACTED_STATES,
            campaign__week_start__gt=run.week_start - dt.timedelta(days=span),
            campaign__week_start__lt=run.week_start + dt.timedelta(days=span),
        )
        .exclude(campaign__allocation_run=run)
        .values_list("customer_id", "campaign__week_start")
    )
    if not rows:
        return np.zeros(len(customer_ids), dtype=np.int64)
    owner = np.array([r[0] for r in rows], dtype=np.int64)
    offset = np.array([(r[1] - run.week_start).days for r in rows], dtype=np.int64)
    codes, uniques = pd.factorize(owner)
    best = np.zeros(len(uniques), dtype=np.int64)
    for start in np.union1d(offset[offset <= 0], [0]):
        inside = (offset >= start) & (offset <= start + span - 1)
        best = np.maximum(best, np.bincount(codes[inside], minlength=len(uniques)))
    counts = dict(zip(uniques.tolist(), best.tolist(), strict=True))
    return customer_ids.map(counts).fillna(0).astype("int64").to_numpy()


def _responses(run: AllocationRun) -> pd.DataFrame:
    """Long frame: ``customer_id``, ``bonus_type``, ``response_probability``."""
    names = ["customer_id", "bonus_type", "response_probability"]
    dtypes = {"customer_id": "int64", "bonus_type": "str", "response_probability": "float64"}
    values = {"run": run.scoring_run_id}
    frame = query_frame(queries.run_responses(), run.retailer_id, values, names, dtypes)
    return frame.astype(dtypes)


def _unit_cost(bonus_type: BonusType, retailer: Retailer, mean_basket: float) -> float:
    """Cost to the retailer of one redemption (points valued at the liability per point)."""
    if bonus_type.redemption_cost is not None:
        return float(bonus_type.redemption_cost)
    face = float(bonus_type.face_value)
    point_value = float(retailer.point_value)
    if bonus_type.kind == BonusKind.PERCENT_DISCOUNT:
        return face / 100.0 * mean_basket
    if bonus_type.kind == BonusKind.AMOUNT_DISCOUNT:
        return face
    if bonus_type.kind == BonusKind.FREE_PRODUCT:
        return float(bonus_type.product.unit_cost) if bonus_type.product else face
    if bonus_type.kind == BonusKind.POINTS:
        return face * point_value
    if bonus_type.kind == BonusKind.POINTS_MULTIPLIER:
        earned = float(retailer.points_per_currency_unit) * mean_basket
        return max(face - 1.0, 0.0) * earned * point_value
    return face


def unit_costs(*, retailer: Retailer, mean_basket: float) -> dict[str, Decimal]:
    """Per active bonus type code, the cost of one redemption (what the campaign spends)."""
    # Product offers are priced per product by the offer allocation (optimizer.services.offers).
    types = (
        BonusType.objects.for_retailer(retailer)
        .filter(is_active=True)
        .exclude(kind=BonusKind.PRODUCT_OFFER)
    )
    return {
        t.code: Decimal(str(round(_unit_cost(t, retailer, mean_basket), 2)))
        for t in types.select_related("product")
    }


def _bonus_types(run: AllocationRun, mean_basket: float) -> tuple[pd.DataFrame, dict[str, int]]:
    wanted = run.settings.bonus_types
    types = (
        BonusType.objects.for_retailer(run.retailer)
        .filter(is_active=True)
        .exclude(kind=BonusKind.PRODUCT_OFFER)
    )
    if wanted:
        types = types.filter(code__in=wanted)
    reference = (run.scoring_run.metrics or {}).get("response", {}).get("visit_reference") or {}
    rows, ids = [], {}
    for t in types.select_related("product").order_by("code"):
        ids[t.code] = t.pk
        rows.append(
            {
                "bonus_type": t.code,
                "label": t.name or t.code,
                "cost_when_redeemed": _unit_cost(t, run.retailer, mean_basket),
                "validity_days": int(t.validity_days),
                "allowed_segments": list(t.eligible_segments or []) or None,
                "min_clv": float(t.min_clv),
                "requires_consent": bool(t.requires_consent),
                # Points are credited at issuance: their cost does not wait for a redemption.
                "charged_on_issue": t.kind == BonusKind.POINTS,
                "reference_visit_probability": float(reference.get(t.code, 1.0)),
            }
        )
    columns = [
        "bonus_type", "label", "cost_when_redeemed", "validity_days", "allowed_segments",
        "min_clv", "requires_consent", "charged_on_issue", "reference_visit_probability",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns), ids


def _uplift(retailer: Retailer) -> pd.DataFrame | None:
    """Observed treated-vs-control margin per (segment, bonus type) of closed campaigns.

    Pooled over campaigns, weighted by treated customers (see optimizer.services.campaign_results).
    """
    rows = []
    for results in (
        Campaign.objects.for_retailer(retailer)
        .filter(state=CampaignState.CLOSED)
        .values_list("results", flat=True)
    ):
        rows.extend((results or {}).get("uplift", []))
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame["weighted"] = frame["incremental_margin_per_treated"] * frame["treated_n"]
    pooled = frame.groupby(["segment", "bonus_type"], as_index=False)[
        ["treated_n", "control_n", "weighted"]
    ].sum()
    pooled["incremental_margin_per_treated"] = pooled["weighted"] / pooled["treated_n"].clip(
        lower=1
    )
    return pooled.drop(columns="weighted")


def allocation_inputs_read(*, run: AllocationRun) -> AllocationInputs:
    """Every input frame of the engine for ``run`` (its scoring run, catalogue and history)."""
    customers = _customers(run)
    mean_basket = float(customers["avg_basket"].mean()) if len(customers) else 0.0
    excluded = set(run.settings.excluded_customers)
    if excluded:
        customers = customers[~customers["customer_id"].isin(excluded)].reset_index(drop=True)
    bonus_types, ids = _bonus_types(run, mean_basket)
    return AllocationInputs(
        customers=customers.drop(columns="avg_basket"),
        response=_responses(run),
        bonus_types=bonus_types,
        uplift=_uplift(run.retailer),
        bonus_type_ids=ids,
        mean_basket=mean_basket,
    )
