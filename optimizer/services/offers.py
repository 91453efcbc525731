"""Personalised product offers for a proposed campaign: candidates in, offers chosen, rows out.

The recommender's candidates (``optimizer.selectors.offer_candidates``) are priced with the
active ``product_offer`` bonus types, put beside each treated member's generic bonus, and handed
to the pure engine :func:`optimizer.engine.offers.offers_allocate` (the direct MILP on small
campaigns, the decomposition with a proven gap at chain scale); the chosen offers are written as
:class:`~campaigns.models.CampaignOffer` rows in one transaction, with the solver report, the
top products and the funding per supplier on the campaign. Issuing the campaign later turns
the treated members' offers into bonuses (``campaigns.services.offers``).

Pricing of one candidate (customer c, product p, bonus type t):
    discount per redemption  p.price x t.face_value / 100
    P(redeem)                per candidate kind: the retailer's own redemption rate of resolved
                             product offers of that kind when it has enough, else a prior
                             (``optimizer.services.redeem``; docs/personalised-offers.md)
    retailer cost            P(redeem) x discount x (1 - t.supplier_share)
    supplier cost            P(redeem) x discount x t.supplier_share
    value                    incremental value (the recommender's) - retailer cost

Running it again on the same proposed campaign replaces its offers: the generic bonuses it took
away are given back first (kept in ``campaign.solver["offers"]["dropped_generic"]``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
from django.db import transaction

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import (
    AuditAction,
    BonusKind,
    BonusType,
    Campaign,
    CampaignMember,
    CampaignOffer,
    CampaignState,
    SupplierBudget,
)
from campaigns.services import audit_record
from customers.models import Customer, TransactionLine
from loyalty_site.money import quantize
from optimizer.engine.allocation import InfeasibleAllocation
from optimizer.engine.offers import GENERIC, PRODUCT, OfferConstraints, offers_allocate
from optimizer.exceptions import OffersUnavailable
from optimizer.selectors import offer_candidates
from optimizer.services.common import json_ready
from optimizer.services.redeem import REDEEM_PRIORS, redeem_probabilities
from retailers.models import Product

if TYPE_CHECKING:
    from loyalty_site.users import User

TOP_PRODUCTS = 10
#: What a generic bonus the offers replaced keeps, to be given back on a re-run.
_GENERIC_FIELDS = (
    "bonus_type_id",
    "expected_cost",
    "expected_value",
    "expected_revenue",
    "redemption_probability",
    "reason",
)


@dataclass(frozen=True)
class OffersOutcome:
    """What one allocation of offers did (also stored in ``campaign.solver["offers"]``)."""

    offers: int
    customers: int
    control_offers: int
    dropped_generic: int
    status: str
    gap: float


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _types(campaign: Campaign) -> list[BonusType]:
    return list(
        BonusType.objects.for_retailer(campaign.retailer_id)
        .filter(kind=BonusKind.PRODUCT_OFFER, is_active=True)
        .select_related("product")
        .order_by("code")
    )


def _type_for(product: Product, types: list[BonusType]) -> BonusType | None:
    """The product's own offer type, else the first template of its category (or of all)."""
    own = [t for t in types if t.product_id == product.pk]
    if own:
        return own[0]
    for t in types:
        if t.product_id is None and t.category in ("", product.category):
            return t
    return None


def _product_options(
    campaign: Campaign,
    candidates: pd.DataFrame,
    types: list[BonusType],
    redeem: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    products = Product.objects.for_retailer(campaign.retailer_id).in_bulk(
        candidates["product_id"].unique().tolist()
    )
    consent = set(
        Customer.objects.for_retailer(campaign.retailer_id)
        .filter(pk__in=candidates["customer_id"].unique().tolist(), marketing_consent=True)
        .values_list("pk", flat=True)
    )
    rows = []
    for cand in candidates.itertuples(index=False):
        product = products.get(int(cand.product_id))
        btype = _type_for(product, types) if product is not None else None
        if product is None or btype is None:
            continue
        if btype.requires_consent and int(cand.customer_id) not in consent:
            continue
        discount = float(product.price) * float(btype.face_value) / 100.0
        p = float(redeem.get(str(cand.kind), {}).get("p", min(REDEEM_PRIORS.values())))
        share = float(btype.supplier_share)
        retailer_cost = p * discount * (1.0 - share)
        rows.append(
            {
                "customer_id": int(cand.customer_id),
                "option": btype.code,
                "product_id": product.pk,
                "kind": PRODUCT,
                "supplier": btype.supplier or product.brand,
                "value": float(cand.incremental_value) - retailer_cost,
                "retailer_cost": retailer_cost,
                "supplier_cost": p * discount * share,
                "required": False,
                "reason": str(cand.reason),
                "candidate_kind": str(cand.kind),
                "probability": p,
                "discount_percent": btype.face_value,
                "incremental_value": float(cand.incremental_value),
                "bonus_type_id": btype.pk,
            }
        )
    return pd.DataFrame(rows)


def _generic_options(members: list[CampaignMember]) -> pd.DataFrame:
    rows = [
        {
            "customer_id": m.customer_id,
            "option": m.bonus_type.code,
            "product_id": None,
            "kind": GENERIC,
            "supplier": "",
            "value": float(m.expected_value),
            "retailer_cost": float(m.expected_cost),
            "supplier_cost": 0.0,
            # The allocation chose a non-positive pair only to meet a coverage minimum: keep it.
            "required": m.expected_value <= 0,
            "reason": m.reason,
            "bonus_type_id": m.bonus_type_id,
        }
        for m in members
        if not m.is_control and m.bonus_type is not None
    ]
    return pd.DataFrame(rows)


def _restore_generic(campaign: Campaign) -> None:
    dropped = (campaign.solver.get("offers") or {}).get("dropped_generic") or {}
    for member_id, kept in dropped.items():
        CampaignMember.objects.filter(pk=int(member_id), campaign=campaign).update(
            **{name: kept[name] for name in _GENERIC_FIELDS}
        )
    CampaignOffer.objects.filter(campaign=campaign).delete()


def _limits(
    campaign: Campaign, options: pd.DataFrame, types: list[BonusType], *, max_offers: int
) -> OfferConstraints:
    by_code = {t.code: t for t in types}
    product_budgets: dict[int, float] = {}
    for (code, product), _ in options.loc[options["kind"] == PRODUCT].groupby(
        ["option", "product_id"]
    ):
        budget = by_code[str(code)].product_budget
        if budget is not None:
            product_budgets[int(product)] = float(budget)
    suppliers = set(options["supplier"]) - {""}
    supplier_budgets = {
        s.supplier: float(s.budget)
        for s in SupplierBudget.objects.for_retailer(campaign.retailer_id).filter(
            supplier__in=suppliers
        )
    }
    caps = {t.code: int(t.max_per_campaign) for t in types if t.max_per_campaign is not None}
    return OfferConstraints(
        max_offers=max_offers,
        budget=float(campaign.budget),
        product_budgets=product_budgets,
        supplier_budgets=supplier_budgets,
        option_caps=caps,
        control_share=float(campaign.control_share),
    )


def _write(
    campaign: Campaign, chosen: pd.DataFrame, members: dict[int, CampaignMember]
) -> tuple[int, int]:
    """Offer rows (treated and control) for the chosen product options."""
    products = chosen.loc[chosen["kind"] == PRODUCT]
    new = [
        CampaignMember(
            retailer_id=campaign.retailer_id,
            campaign=campaign,
            customer_id=int(c),
            is_control=bool(status == "control"),
            reason="personalised product offers",
        )
        for c, status in products.groupby("customer_id")["status"].first().items()
        if int(c) not in members
    ]
    for member in CampaignMember.objects.bulk_create(new):
        members[member.customer_id] = member
    CampaignOffer.objects.bulk_create(
        CampaignOffer(
            retailer_id=campaign.retailer_id,
            campaign=campaign,
            member=members[int(row.customer_id)],
            customer_id=int(row.customer_id),
            product_id=int(row.product_id),
            bonus_type_id=int(row.bonus_type_id),
            rank=int(row.rank),
            candidate_kind=row.candidate_kind,
            discount_percent=row.discount_percent,
            supplier=row.supplier[:200],
            redemption_probability=Decimal(str(round(row.probability, 4))),
            incremental_value=quantize(row.incremental_value),
            expected_retailer_cost=quantize(row.retailer_cost),
            expected_supplier_cost=quantize(row.supplier_cost),
            expected_value=quantize(row.value),
            reason=str(row.reason)[:255],
        )
        for row in products.itertuples(index=False)
    )
    return len(products), len(new)


def _summaries(chosen: pd.DataFrame) -> dict[str, Any]:
    treated = chosen.loc[(chosen["status"] == "allocated") & (chosen["kind"] == PRODUCT)]
    by_product = (
        treated.groupby("product_id")
        .agg(
            offers=("customer_id", "size"),
            expected_retailer_cost=("retailer_cost", "sum"),
            expected_supplier_cost=("supplier_cost", "sum"),
            expected_value=("value", "sum"),
        )
        .sort_values(["offers", "expected_value"], ascending=False)
        .head(TOP_PRODUCTS)
    )
    # The SKU with the name: a catalogue may name several products alike (Complete Journey has
    # many "FLUID MILK WHITE ONLY 1 GA").
    labels = {
        pk: (name, sku)
        for pk, name, sku in Product.objects.filter(pk__in=by_product.index.tolist()).values_list(
            "pk", "name", "sku"
        )
    }
    by_supplier = (
        treated.loc[treated["supplier"] != ""]
        .groupby("supplier")
        .agg(offers=("customer_id", "size"), expected_supplier_cost=("supplier_cost", "sum"))
        .sort_values("expected_supplier_cost", ascending=False)
    )
    return json_ready(
        {
            "top_products": [
                {
                    "product_id": int(pid),
                    "name": labels.get(int(pid), ("", ""))[0],
                    "sku": labels.get(int(pid), ("", ""))[1],
                    **row,
                }
                for pid, row in by_product.round(2).to_dict(orient="index").items()
            ],
            "by_supplier": [
                {"supplier": s, **row}
                for s, row in by_supplier.round(2).to_dict(orient="index").items()
            ],
        }
    )


@transaction.atomic(durable=True)
def campaign_offers_allocate(
    *,
    campaign_id: int,
    actor: User | None,
    max_offers: int = 3,
    candidates: pd.DataFrame | None = None,
    time_limit: float = 60.0,
    method: str = "auto",
) -> OffersOutcome:
    """Choose up to ``max_offers`` offers per customer of a proposed campaign and write them.

    Args:
        campaign_id: a proposed campaign.
        actor: who asked (audit log).
        max_offers: N, offers per customer, the generic bonus included.
        candidates: the recommender's frame (``offer_candidates`` columns); default: the
            retailer's latest successful recommendation run.
        time_limit: wall-time limit of the whole choice (every solver in it), seconds.
        method: the engine's method ("auto": the direct MILP up to
            :data:`optimizer.engine.offers.AUTO_MILP_MAX_PAIRS` pairs, the decomposition above).

    Raises:
        TransitionNotAllowed: the campaign is no longer proposed.
        OffersUnavailable: no candidate, or no active product-offer bonus type fits one.
        InfeasibleAllocation: the generic bonuses coverage needs exceed the budget.
    """
    campaign = Campaign.objects.select_for_update().select_related("retailer").get(pk=campaign_id)
    if campaign.state != CampaignState.PROPOSED:
        raise TransitionNotAllowed(
            f"Campaign #{campaign.pk} is {campaign.state}: offers are chosen while it is proposed."
        )
    if candidates is None:
        candidates = offer_candidates(retailer=campaign.retailer, top_k=10)
    types = _types(campaign)
    if candidates.empty or not types:
        raise OffersUnavailable(
            "No offer candidates or no active product-offer bonus type: run the "
            "recommendations and configure a product offer in the catalogue first."
        )
    _restore_generic(campaign)
    members = {
        m.customer_id: m
        for m in CampaignMember.objects.filter(campaign=campaign).select_related("bonus_type")
    }
    redeem = redeem_probabilities(retailer=campaign.retailer)
    products = _product_options(campaign, candidates, types, redeem)
    if products.empty:
        raise OffersUnavailable("No candidate product has an active product-offer bonus type.")
    generic = _generic_options(list(members.values()))
    options = pd.concat([generic, products], ignore_index=True)
    options["product_id"] = options["product_id"].astype("Int64")
    options["required"] = options["required"].astype(bool)
    control = frozenset(c for c, m in members.items() if m.is_control)
    treated = frozenset(c for c, m in members.items() if not m.is_control)
    try:
        result = offers_allocate(
            options,
            _limits(campaign, options, types, max_offers=max_offers),
            control=control,
            treated=treated,
            random_state=campaign.pk,
            time_limit=time_limit,
            method=method,
        )
    except InfeasibleAllocation as err:
        raise OffersUnavailable(str(err)) from err
    keys = ["customer_id", "option", "product_id"]
    extras = ["candidate_kind", "probability", "discount_percent", "incremental_value"]
    chosen = result.chosen.merge(
        options[[*keys, *extras, "bonus_type_id"]], on=keys, how="left", validate="one_to_one"
    )
    kept_generic = set(chosen.loc[chosen["kind"] == GENERIC, "customer_id"].astype(int))
    dropped = {
        str(m.pk): {name: _plain(getattr(m, name)) for name in _GENERIC_FIELDS}
        for c, m in members.items()
        if not m.is_control and m.bonus_type_id is not None and c not in kept_generic
    }
    CampaignMember.objects.filter(pk__in=[int(k) for k in dropped]).update(
        bonus_type=None,
        expected_cost=0,
        expected_value=0,
        expected_revenue=0,
        redemption_probability=0,
        reason="generic bonus dropped by the offer allocation (better spent on offers)",
    )
    offers, _ = _write(campaign, chosen, members)
    held = int(((chosen["status"] == "control") & (chosen["kind"] == PRODUCT)).sum())
    outcome = OffersOutcome(
        offers=offers - held,
        customers=int(chosen.loc[chosen["status"] == "allocated", "customer_id"].nunique()),
        control_offers=held,
        dropped_generic=len(dropped),
        status=result.status,
        gap=result.gap,
    )
    campaign.solver = {
        **campaign.solver,
        "offers": json_ready(
            {
                **outcome.__dict__,
                "max_offers": max_offers,
                "objective": result.objective,
                "lp_bound": result.lp_bound,
                "bound": result.bound,
                "method": result.method,
                "constraints": list(result.constraints),
                "binding": [c["name"] for c in result.constraints if c["binding"]],
                "solve_seconds": round(result.solve_seconds, 3),
                "redeem_priors": REDEEM_PRIORS,
                "redeem_probabilities": redeem,
                "dropped_generic": dropped,
            }
        ),
    }
    campaign.breakdown = {**campaign.breakdown, "offers": _summaries(chosen)}
    campaign.save(update_fields=["solver", "breakdown"])
    audit_record(
        target=campaign,
        action=AuditAction.OFFERS_ALLOCATE,
        actor=actor,
        comment=f"{outcome.offers} personalised offers for {outcome.customers} customers.",
        data={"status": result.status, "gap": result.gap, "max_offers": max_offers},
    )
    return outcome


def campaign_offer_results(*, campaign: Campaign, first: dt.date, last: dt.date) -> dict[str, Any]:
    """Purchases of the offered products in the window ``first``..``last`` (retailer's days):
    the share of treated offers whose customer bought the product, against the same share for
    the control group's would-have-been offers. ``{}`` when the campaign has no offers."""
    offers = pd.DataFrame.from_records(
        CampaignOffer.objects.filter(campaign=campaign).values_list(
            "customer_id", "product_id", "member__is_control"
        ),
        columns=["customer_id", "product_id", "is_control"],
    )
    if offers.empty:
        return {}
    tz = campaign.retailer.tz
    bought = set(
        TransactionLine.objects.filter(
            retailer_id=campaign.retailer_id,
            transaction__customer_id__in=offers["customer_id"].unique().tolist(),
            product_id__in=offers["product_id"].unique().tolist(),
            quantity__gt=0,
            transaction__timestamp__gte=dt.datetime.combine(first, dt.time.min, tzinfo=tz),
            transaction__timestamp__lt=dt.datetime.combine(
                last + dt.timedelta(days=1), dt.time.min, tzinfo=tz
            ),
        )
        .values_list("transaction__customer_id", "product_id")
        .distinct()
    )
    offers["bought"] = [
        (c, p) in bought for c, p in zip(offers["customer_id"], offers["product_id"], strict=True)
    ]

    def group(is_control: bool) -> dict[str, Any]:
        part = offers.loc[offers["is_control"] == is_control]
        rate = float(part["bought"].mean()) if len(part) else None
        return {"offers": len(part), "bought": int(part["bought"].sum()), "rate": rate}

    treated, control = group(False), group(True)
    uplift = (
        treated["rate"] - control["rate"]
        if treated["rate"] is not None and control["rate"] is not None
        else None
    )
    return {"treated": treated, "control": control, "uplift": uplift}
