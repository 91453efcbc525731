"""The offer MILP on problems small enough to check by hand (no database)."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.engine.allocation.types import STATUS_OPTIMAL, InfeasibleAllocation
from optimizer.engine.offers import OfferConstraints, offers_allocate
from optimizer.engine.types import EngineInputError


def options(*rows: tuple) -> pd.DataFrame:
    """Rows: customer, option, product (None: generic), supplier, value, retailer and supplier
    cost."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "option",
            "product_id",
            "supplier",
            "value",
            "retailer_cost",
            "supplier_cost",
        ],
    )
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["product_id"] = frame["product_id"].astype("Int64")
    frame["kind"] = frame["product_id"].isna().map({True: "generic", False: "product"})
    frame["required"] = False
    frame["reason"] = "you often buy it"
    return frame


def allocated(result) -> set[tuple[int, str]]:
    chosen = result.chosen
    mine = chosen.loc[chosen["status"] == "allocated"]
    return {(int(c), str(o)) for c, o in zip(mine["customer_id"], mine["option"], strict=True)}


def solve(frame: pd.DataFrame, **limits) -> object:
    limits.setdefault("max_offers", 2)
    limits.setdefault("budget", 100.0)
    return offers_allocate(frame, OfferConstraints(**limits), random_state=0, time_limit=10)


BASE = options(
    (1, "coupon", None, "", 5.0, 2.0, 0.0),
    (1, "offer-a", 10, "acme", 4.0, 1.0, 1.0),
    (1, "offer-b", 11, "", 3.0, 1.0, 0.0),
    (2, "offer-a", 10, "acme", 6.0, 1.0, 1.0),
    (2, "offer-b", 11, "", -1.0, 1.0, 0.0),
)


def test_offers_allocate_takes_the_best_n_per_customer_when_budget_is_loose():
    result = solve(BASE, max_offers=2)
    assert allocated(result) == {(1, "coupon"), (1, "offer-a"), (2, "offer-a")}
    assert result.objective == pytest.approx(15.0)
    assert result.status == STATUS_OPTIMAL
    ranks = result.chosen.set_index(["customer_id", "option"])["rank"]
    assert ranks[(1, "coupon")] == 1
    assert ranks[(1, "offer-a")] == 2


def test_offers_allocate_keeps_the_retailer_budget_and_reports_it_binding():
    # Budget 3: three offers at 1 each (4 + 3 + 6 = 13) beat the coupon (2) and one (5 + 6).
    result = solve(BASE, max_offers=2, budget=3.0)
    assert allocated(result) == {(1, "offer-a"), (1, "offer-b"), (2, "offer-a")}
    assert result.objective == pytest.approx(13.0)
    budget = next(c for c in result.constraints if c["name"] == "budget")
    assert budget["used"] == pytest.approx(3.0)
    assert budget["binding"]
    assert result.lp_bound >= result.objective - 1e-9
    assert result.gap <= 1e-4


def test_offers_allocate_keeps_the_supplier_budget():
    # acme funds 1 per offer-a: a budget of 1 lets one through, the better one (customer 2).
    result = solve(BASE, max_offers=2, supplier_budgets={"acme": 1.0})
    assert (2, "offer-a") in allocated(result)
    assert (1, "offer-a") not in allocated(result)
    assert (1, "offer-b") in allocated(result)


def test_offers_allocate_keeps_the_product_budget_on_both_shares():
    # Product 10's expected discount is 2 per offer: a budget of 3 allows one.
    result = solve(BASE, max_offers=3, product_budgets={10: 3.0})
    assert sum(1 for _, o in allocated(result) if o == "offer-a") == 1


def test_offers_allocate_gives_one_generic_at_most():
    frame = options(
        (1, "coupon", None, "", 5.0, 1.0, 0.0),
        (1, "points", None, "", 4.0, 1.0, 0.0),
        (1, "offer-a", 10, "", 1.0, 1.0, 0.0),
    )
    result = solve(frame, max_offers=3)
    assert allocated(result) == {(1, "coupon"), (1, "offer-a")}


def test_offers_allocate_gives_control_customers_nothing_but_records_their_offers():
    result = offers_allocate(
        BASE,
        OfferConstraints(max_offers=2, budget=100.0),
        control=frozenset({2}),
        random_state=0,
        time_limit=10,
    )
    assert (2, "offer-a") not in allocated(result)
    held = result.chosen.loc[result.chosen["status"] == "control"]
    assert held["customer_id"].tolist() == [2]
    assert held["option"].tolist() == ["offer-a"]


def test_offers_allocate_keeps_required_options_and_refuses_an_impossible_budget():
    frame = BASE.copy()
    frame.loc[0, "value"] = -1.0
    frame.loc[0, "required"] = True
    assert (1, "coupon") in allocated(solve(frame))
    with pytest.raises(InfeasibleAllocation, match="coverage"):
        solve(frame, budget=1.0)


def test_offers_allocate_names_the_bad_row():
    frame = BASE.copy()
    frame.loc[3, "retailer_cost"] = -2.0
    with pytest.raises(EngineInputError, match="row 3: retailer_cost"):
        solve(frame)
    frame = BASE.copy()
    frame.loc[4, "product_id"] = 10
    with pytest.raises(EngineInputError, match="row 4: the customer has this product twice"):
        solve(frame)


def test_greedy_fallback_is_feasible_and_never_beats_the_milp():
    """The incumbent kept when the time limit stops the MILP early (``_greedy``)."""
    from optimizer.engine.offers.greedy import greedy_fill
    from optimizer.engine.offers.rows import build_rows

    limits = OfferConstraints(max_offers=2, budget=3.0, supplier_budgets={"acme": 1.0})
    frame = BASE.assign(required=False)
    pick = greedy_fill(frame, build_rows(frame, limits), limits.max_offers)
    chosen = frame.loc[pick]
    assert chosen["retailer_cost"].sum() <= 3.0
    assert chosen.loc[chosen["supplier"] == "acme", "supplier_cost"].sum() <= 1.0
    assert chosen.groupby("customer_id").size().max() <= 2
    assert (chosen["value"] > 0).all()
    milp = offers_allocate(frame, limits, random_state=0, time_limit=10)
    assert milp.objective >= chosen["value"].sum() - 1e-9
