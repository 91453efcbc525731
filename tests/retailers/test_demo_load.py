"""``load_demo`` on a small slice of The Complete Journey."""

from __future__ import annotations

from io import StringIO

import pandas as pd
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from campaigns.models import BonusType, PastOffer
from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.site.demo import completejourney_files as files
from retailers.models import (
    CompetitorPrice,
    InventoryLevel,
    Membership,
    Product,
    PromotionHistory,
    Retailer,
    Role,
    Store,
)
from tests.retailers.factories import RetailerFactory

pytestmark = pytest.mark.django_db

HOUSEHOLDS = 12


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", "--households", str(HOUSEHOLDS), *args, stdout=out)
    return out.getvalue()


def source(name: str, households: list[int]) -> pd.DataFrame:
    frame = pd.read_parquet(files.data_dir() / f"{name}.parquet")
    return frame[frame["household_id"].isin(households)] if "household_id" in frame else frame


@pytest.mark.slow
def test_load_demo_slice_matches_the_source_tables():
    output = load("--keep-dates")  # the source's own calendar (the shift: test_demo_present.py)
    retailer = Retailer.objects.get(slug="demo")
    assert (retailer.currency, retailer.time_zone, retailer.is_demo) == (
        "USD",
        "America/New_York",
        True,
    )
    # non-merchandise is never promoted: the demo's excluded categories name its gift cards,
    # prepaid wireless ("MISC CARRIER"), calling cards and photofinishing
    for category in (
        "COUPON/MISC ITEMS",
        "PREPAID WIRELESS&ACCESSORIES",
        "OVERNIGHT PHOTOFINISHING",
    ):
        assert category in retailer.excluded_category_list
    households = sorted(int(i) for i in Customer.objects.values_list("external_id", flat=True))
    everyone = pd.read_parquet(files.data_dir() / "transactions.parquet", columns=["household_id"])
    assert households == sorted(everyone["household_id"].unique())[:HOUSEHOLDS]

    raw = source("transactions", households)
    dropped = int((raw["quantity"] == 0).sum())
    assert f"dropped {dropped:,} with quantity 0" in output
    lines = TransactionLine.objects.filter(retailer=retailer)
    assert lines.count() == len(raw) - dropped
    kept = raw[raw["quantity"] != 0]
    assert Transaction.objects.filter(retailer=retailer).count() == kept["basket_id"].nunique()
    assert Store.objects.filter(retailer=retailer).count() == kept["store_id"].nunique()
    assert Product.objects.filter(retailer=retailer).count() == kept["product_id"].nunique()
    assert not lines.filter(quantity__gt=0, amount__lt=0).exists()
    first = kept.iloc[0]
    basket = Transaction.objects.get(retailer=retailer, external_id=str(first["basket_id"]))
    assert basket.timestamp == first["transaction_timestamp"].tz_localize("UTC").to_pydatetime()
    assert basket.customer.external_id == str(first["household_id"])

    offers = PastOffer.objects.filter(retailer=retailer)
    assert offers.count() == len(source("campaigns", households))
    redemptions = source("coupon_redemptions", households)
    redeemed = redemptions.groupby(["campaign_id", "household_id"])["redemption_date"].min()
    got = {
        tuple(int(x) for x in offer_id.split("-")): day
        for offer_id, day in offers.filter(redeemed_on__isnull=False).values_list(
            "external_id", "redeemed_on"
        )
    }
    assert got == {key: day.date() for key, day in redeemed.items()}
    assert set(BonusType.objects.filter(retailer=retailer).values_list("code", flat=True)) == {
        "type-a",
        "type-b",
        "type-c",
        "product-20",  # the personalised product offer (docs/personalised-offers.md)
    }

    history = PromotionHistory.objects.filter(retailer=retailer)
    assert history.exists()
    assert {d.weekday() for d in history.values_list("week_start", flat=True).distinct()} == {0}
    assert InventoryLevel.objects.filter(retailer=retailer, is_synthetic=True).exists()
    assert not InventoryLevel.objects.filter(retailer=retailer, is_synthetic=False).exists()
    assert CompetitorPrice.objects.filter(retailer=retailer).exclude(is_synthetic=True).count() == 0

    # The points ledger is replayed from the baskets: a member with baskets has points, and
    # every chain's last balance is the sum of its entries.
    from customers.services.points import points_ledger_total, points_summary

    member = Customer.objects.filter(retailer=retailer, points_entries__isnull=False).first()
    assert member is not None
    last = member.points_entries.order_by("-seq").first()
    assert last.balance_after == points_ledger_total(customer=member) > 0
    assert (
        points_summary(customer=member, as_of=retailer.demo_source_end).balance
        == last.balance_after
    )


def test_load_demo_creates_one_staff_user_per_role_with_the_password():
    output = load("--skip-promotions", "--password", "another-Secret-9")
    retailer = Retailer.objects.get(slug="demo")
    for role in Role.values:
        request = RequestFactory().post("/accounts/login/")  # django-axes wants the request
        user = authenticate(request, username=f"demo-{role}", password="another-Secret-9")
        assert user is not None
        assert user.is_staff
        assert not user.is_superuser
        assert Membership.objects.get(user=user, retailer=retailer).role == role
    # No fixed address: make demo's server may listen on another port, and prints its own.
    assert "http://" not in output
    assert "demo-approver" in output
    assert "another-Secret-9" not in output


def test_load_demo_twice_replaces_instead_of_duplicating():
    load("--skip-promotions")
    first = {
        model.__name__: model.objects.count()
        for model in (Customer, Transaction, TransactionLine, PastOffer, Product, Membership)
    }
    load("--skip-promotions")
    again = {
        model.__name__: model.objects.count()
        for model in (Customer, Transaction, TransactionLine, PastOffer, Product, Membership)
    }
    assert again == first
    assert Retailer.objects.filter(slug="demo").count() == 1


def test_load_demo_if_missing_keeps_a_loaded_demo():
    load("--skip-promotions")
    before = Retailer.objects.get(slug="demo").pk
    assert "already loaded" in load("--skip-promotions", "--if-missing")
    assert Retailer.objects.get(slug="demo").pk == before


def test_load_demo_refuses_to_replace_a_retailer_that_is_not_a_demo():
    RetailerFactory(slug="demo", is_demo=False)
    with pytest.raises(CommandError, match="not a demo"):
        load("--skip-promotions")
    assert Retailer.objects.get(slug="demo").is_demo is False
