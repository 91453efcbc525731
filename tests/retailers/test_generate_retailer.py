"""``generate_retailer`` writes exactly what the pure model generates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from campaigns.models import BonusType, PastOffer
from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.site.demo import synthetic
from retailers.models import Product, Retailer, Store
from tests.retailers.factories import RetailerFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2025, 6, 2)


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_retailer", *args, stdout=out)
    return out.getvalue()


def test_generate_retailer_writes_the_generated_rows_and_the_truth(tmp_path):
    truth_file = tmp_path / "truth.csv"
    generate(
        "--customers=2500",
        "--seed=4",
        "--weeks=26",
        f"--as-of={AS_OF}",
        "--chunk-customers=1000",
        f"--truth-out={truth_file}",
    )
    expected = synthetic.generate(2500, seed=4, weeks=26, as_of=AS_OF)
    retailer = Retailer.objects.get(slug="synthetic")
    assert retailer.is_demo
    counts = {
        "stores": Store.objects.filter(retailer=retailer).count(),
        "products": Product.objects.filter(retailer=retailer).count(),
        "bonus_types": BonusType.objects.filter(retailer=retailer).count(),
        "customers": Customer.objects.filter(retailer=retailer).count(),
        "transactions": Transaction.objects.filter(retailer=retailer).count(),
        "lines": TransactionLine.objects.filter(retailer=retailer).count(),
        "offers": PastOffer.objects.filter(retailer=retailer).count(),
    }
    assert counts == {name: len(getattr(expected, name)) for name in counts}
    assert PastOffer.objects.filter(retailer=retailer, redeemed_on__isnull=False).count() == int(
        expected.offers["redeemed_on"].notna().sum()
    )
    total = TransactionLine.objects.filter(retailer=retailer).aggregate(s=Sum("amount"))["s"]
    assert Decimal(str(total)).quantize(Decimal("0.01")) == Decimal(
        str(round(expected.lines["amount"].sum(), 2))
    )

    truth = pd.read_csv(truth_file)
    assert len(truth) == 2500
    assert truth["customer_id"].tolist() == expected.truth["customer_id"].tolist()
    assert truth["future_visits_8w"].tolist() == expected.truth["future_visits_8w"].tolist()
    assert "response_pct-10" in truth.columns

    customer = Customer.objects.get(retailer=retailer, external_id="C0000001")
    row = expected.customers.iloc[0]
    assert customer.enrolled_on == row["enrolled_on"].date()
    first = Transaction.objects.filter(customer=customer).order_by("timestamp").first()
    if first is not None:
        mine = expected.transactions[expected.transactions["customer_id"] == "C0000001"]
        assert first.timestamp == mine["timestamp"].min().to_pydatetime()


def test_generate_retailer_twice_replaces_the_retailer():
    generate("--customers=1200", "--seed=1", "--weeks=8")
    first = (Customer.objects.count(), TransactionLine.objects.count(), PastOffer.objects.count())
    generate("--customers=1200", "--seed=1", "--weeks=8")
    assert (
        Customer.objects.count(),
        TransactionLine.objects.count(),
        PastOffer.objects.count(),
    ) == first
    assert Retailer.objects.filter(slug="synthetic").count() == 1


def test_generate_retailer_leaves_other_retailers_alone(retailer):
    generate("--customers=1000", "--seed=2", "--weeks=8", "--slug=synth-a")
    generate("--customers=1000", "--seed=3", "--weeks=8", "--slug=synth-b")
    generate("--customers=1000", "--seed=2", "--weeks=8", "--slug=synth-a")
    assert Retailer.objects.filter(slug__startswith="synth-").count() == 2
    assert Customer.objects.count() == 2000
    assert Retailer.objects.filter(pk=retailer.pk).exists()


def test_generate_retailer_refuses_a_retailer_that_is_not_a_demo():
    RetailerFactory(slug="synthetic", is_demo=False)
    with pytest.raises(CommandError, match="not a demo"):
        generate("--customers=10", "--seed=1")


@pytest.mark.django_db(transaction=True)
def test_generate_retailer_parallel_writers_write_the_same_rows():
    generate("--customers=3000", "--seed=8", "--weeks=12", "--chunk-customers=1000", "--workers=3")
    expected = synthetic.generate(3000, seed=8, weeks=12)
    retailer = Retailer.objects.get(slug="synthetic")
    lines = TransactionLine.objects.filter(retailer=retailer)
    assert lines.count() == len(expected.lines)
    assert Transaction.objects.filter(retailer=retailer).count() == len(expected.transactions)
    assert PastOffer.objects.filter(retailer=retailer).count() == len(expected.offers)
    per_customer = dict(
        Transaction.objects.filter(retailer=retailer)
        .values_list("customer__external_id")
        .annotate(n=Count("id"))
    )
    assert per_customer == expected.transactions["customer_id"].value_counts().to_dict()
