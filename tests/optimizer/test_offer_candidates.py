"""The offer-candidate contract: ``optimizer.selectors.offer_candidates``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from optimizer.models import OfferCandidate
from optimizer.selectors import OFFER_CANDIDATE_COLUMNS, offer_candidates
from retailers.models import RunStatus
from tests.customers.factories import CustomerFactory
from tests.optimizer.factories import RecommendationRunFactory
from tests.retailers.factories import ProductFactory


def _candidate(run, customer, product, rank, kind="try"):
    return OfferCandidate.objects.create(
        retailer=run.retailer,
        run=run,
        customer=customer,
        product=product,
        kind=kind,
        score=1.0 / rank,
        rank=rank,
        incremental_value=Decimal("0.40"),
        reason=f"reason {rank}",
    )


@pytest.mark.django_db
def test_offer_candidates_reads_the_latest_succeeded_run_up_to_top_k(retailer, other_retailer):
    customer = CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 1, 1))
    products = [ProductFactory(retailer=retailer) for _ in range(3)]
    now = timezone.now()
    old = RecommendationRunFactory(retailer=retailer, finished_at=now - dt.timedelta(days=2))
    new = RecommendationRunFactory(retailer=retailer, finished_at=now - dt.timedelta(days=1))
    RecommendationRunFactory(retailer=retailer, status=RunStatus.FAILED, finished_at=now)
    _candidate(old, customer, products[0], 1)
    for rank, product in enumerate(products, start=1):
        _candidate(new, customer, product, rank, kind="buy_again" if rank == 1 else "try")

    frame = offer_candidates(retailer, top_k=2)  # the contract: retailer positional
    assert list(frame.columns) == list(OFFER_CANDIDATE_COLUMNS)
    assert frame["product_id"].tolist() == [products[0].pk, products[1].pk]
    assert frame["rank"].tolist() == [1, 2]
    assert frame["kind"].tolist() == ["buy_again", "try"]
    assert frame["incremental_value"].tolist() == [Decimal("0.40"), Decimal("0.40")]
    assert len(offer_candidates(retailer=retailer, run=old)) == 1
    with pytest.raises(ValueError, match="not a run of"):
        offer_candidates(retailer=other_retailer, run=new)
    empty = offer_candidates(retailer=other_retailer)
    assert empty.empty
    assert list(empty.columns) == list(OFFER_CANDIDATE_COLUMNS)
