"""The public CSV contract, for each of the seven files: the sample imports, a file with three bad
rows imports nothing and names exactly those rows and columns, a re-import changes nothing, and
exports neutralise formulas in text but leave numbers alone."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from campaigns.models import BonusType, PastOffer
from customers.models import Customer, Transaction, TransactionLine
from retailers.admin import ContractCSV
from retailers.import_kinds import resource_class_for
from retailers.models import CompetitorPrice, InventoryLevel, Product, Store
from tests.campaigns.factories import BonusTypeFactory, PastOfferFactory
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.retailers.factories import ProductFactory, StoreFactory
from tests.retailers.test_resources import SAMPLES, csv_bytes, rejected_cells, run_import

pytestmark = pytest.mark.django_db

KINDS = [
    "stores",
    "products",
    "customers",
    "transactions",
    "inventory",
    "competitor_prices",
    "offers",
]

#: What each kind's rows reference, created before its file is imported.
NEEDS = {
    "transactions": ("stores", "products", "customers"),
    "inventory": ("stores", "products"),
    "competitor_prices": ("products",),
    "offers": ("customers",),
}

#: Rows written per kind, counted in the tables the kind writes.
WRITTEN = {
    "stores": lambda r: Store.objects.for_retailer(r).count(),
    "products": lambda r: Product.objects.for_retailer(r).count(),
    "customers": lambda r: Customer.objects.for_retailer(r).count(),
    "transactions": lambda r: (
        Transaction.objects.for_retailer(r).count(),
        TransactionLine.objects.for_retailer(r).count(),
    ),
    "inventory": lambda r: InventoryLevel.objects.for_retailer(r).count(),
    "competitor_prices": lambda r: CompetitorPrice.objects.for_retailer(r).count(),
    "offers": lambda r: (
        PastOffer.objects.for_retailer(r).count(),
        BonusType.objects.for_retailer(r).count(),
    ),
}

SAMPLE_WRITES = {
    "stores": 3,
    "products": 4,
    "customers": 3,
    "transactions": (3, 5),
    "inventory": 3,
    "competitor_prices": 3,
    "offers": (3, 2),
}

BAD_FILES = {
    "stores": (
        [
            "store_id,name,region",
            "S001,Helsinki,Uusimaa",
            ",No id,Uusimaa",
            "S002,Espoo,Uusimaa",
            "S001,Again,Uusimaa",
            "S003," + "x" * 201 + ",Pirkanmaa",
        ],
        {(3, "store_id"), (5, "store_id"), (6, "name")},
    ),
    "products": (
        [
            "sku,name,category,brand,unit_cost,price",
            "P1,Oat,Dairy,Oatly,0.95,1.89",
            "P2,Bread,Bakery,Fazer,abc,2.15",
            "P3,Coffee,Coffee,Paulig,3.10,5.499",
            "P4,Banana,Produce,,0.70,-1.49",
        ],
        {(3, "unit_cost"), (4, "price"), (5, "price")},
    ),
    "customers": (
        [
            "customer_id,enrolled_on,household_size,email,marketing_consent",
            "C1,2024-01-01,2,a@example.com,yes",
            "C2,01/02/2024,2,,no",
            "C3,2024-01-01,0,,",
            "C4,2024-01-01,,not-an-email,maybe",
        ],
        {(3, "enrolled_on"), (4, "household_size"), (5, "email"), (5, "marketing_consent")},
    ),
    "transactions": (
        [
            "transaction_id,customer_id,store_id,timestamp,sku,quantity,amount,discount",
            "T1,C0001,S001,2024-06-01T10:00:00,P1001,1,1.89,0.00",
            "T1,C0001,S001,2024-06-01T10:00:00,P-THEIRS,1,1.89,0.00",
            "T2,C0002,S002,2024-06-02T10:00:00,P1002,2,-4.30,0.00",
            "T2,C0002,S001,2024-06-02T10:00:00,P1003,1,5.49,0.00",
        ],
        {(3, "sku"), (4, "amount"), (5, "store_id")},
    ),
    "inventory": (
        [
            "sku,store_id,date,on_hand",
            "P1001,S001,2024-06-01,10",
            "P1001,S009,2024-06-01,10",
            "P1002,,2024-13-01,10",
            "P1003,S001,2024-06-01,-5",
        ],
        {(3, "store_id"), (4, "date"), (5, "on_hand")},
    ),
    "competitor_prices": (
        [
            "sku,competitor,date,price",
            "P1001,Prisma,2024-06-01,1.79",
            ",Prisma,2024-06-01,1.79",
            "P1002,,2024-06-01,1.79",
            "P1003,Lidl,2024-06-01,1e3",
        ],
        {(3, "sku"), (4, "competitor"), (5, "price")},
    ),
    "offers": (
        [
            "offer_id,customer_id,bonus_type,sent_on,valid_until,redeemed_on",
            "O1,C0001,coffee,2024-05-01,2024-05-14,",
            "O2,C0404,coffee,2024-05-01,2024-05-14,",
            "O3,C0002,coffee,2024-05-10,2024-05-01,",
            "O4,C0003,Not A Slug!,2024-05-01,2024-05-14,2024-04-01",
        ],
        {(3, "customer_id"), (4, "valid_until"), (5, "bonus_type"), (5, "redeemed_on")},
    ),
}


@pytest.fixture
def prepared(retailer, other_retailer):
    """``prepare(kind)``: the rows ``kind`` references, with the samples' ids (and a product of
    another retailer, whose SKU must stay unknown)."""
    ProductFactory(retailer=other_retailer, sku="P-THEIRS")

    def prepare(kind: str):
        needs = NEEDS.get(kind, ())
        if "stores" in needs:
            for sid in ("S001", "S002", "S003"):
                StoreFactory(retailer=retailer, external_id=sid)
        if "products" in needs:
            for sku in ("P1001", "P1002", "P1003", "P1004"):
                ProductFactory(retailer=retailer, sku=sku)
        if "customers" in needs:
            for cid in ("C0001", "C0002", "C0003"):
                CustomerFactory(retailer=retailer, external_id=cid)
        return retailer

    return prepare


@pytest.mark.parametrize("kind", KINDS)
def test_import_sample_file_writes_every_row(prepared, kind):
    retailer = prepared(kind)
    summary = run_import(retailer, kind, (SAMPLES / f"{kind}.csv").read_bytes())
    assert summary["new"] == summary["rows"] > 0
    assert WRITTEN[kind](retailer) == SAMPLE_WRITES[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_import_file_with_three_bad_rows_imports_nothing_and_names_them(prepared, kind):
    retailer = prepared(kind)
    before = WRITTEN[kind](retailer)
    lines, expected = BAD_FILES[kind]
    cells = rejected_cells(retailer, kind, csv_bytes(*lines))
    assert cells == expected
    assert len({row for row, _ in cells}) == 3
    assert WRITTEN[kind](retailer) == before


@pytest.mark.parametrize("kind", KINDS)
def test_import_same_file_twice_creates_no_duplicates(prepared, kind):
    retailer = prepared(kind)
    data = (SAMPLES / f"{kind}.csv").read_bytes()
    first = run_import(retailer, kind, data)
    written = WRITTEN[kind](retailer)
    again = run_import(retailer, kind, data)
    assert again == {"rows": first["rows"], "new": 0, "updated": 0, "skipped": first["rows"]}
    assert WRITTEN[kind](retailer) == written


def formula_rows(kind: str, retailer):
    """One row of ``kind`` with formula-like text, and the queryset its export reads."""
    if kind == "stores":
        StoreFactory(retailer=retailer, external_id="S1", name="=HYPERLINK(1)")
        return Store.objects.for_retailer(retailer)
    if kind == "products":
        ProductFactory(retailer=retailer, sku="P1", brand="@evil", name="-50% promo")
        return Product.objects.for_retailer(retailer)
    if kind == "customers":
        CustomerFactory(retailer=retailer, external_id="C1", age_band="+65")
        return Customer.objects.for_retailer(retailer)
    if kind == "transactions":
        basket = TransactionFactory(retailer=retailer, external_id="=1+1")
        TransactionLineFactory(
            transaction=basket, quantity=Decimal("-1.000"), amount=Decimal("-1.89")
        )
        return TransactionLine.objects.for_retailer(retailer)
    if kind == "inventory":
        product = ProductFactory(retailer=retailer, sku="@SUM(A1)")
        InventoryLevel.objects.create(
            retailer=retailer, product=product, date="2024-06-01", on_hand=3
        )
        return InventoryLevel.objects.for_retailer(retailer)
    if kind == "competitor_prices":
        product = ProductFactory(retailer=retailer, sku="P1")
        CompetitorPrice.objects.create(
            retailer=retailer, product=product, competitor="\tTab", date="2024-06-01", price=1
        )
        return CompetitorPrice.objects.for_retailer(retailer)
    bonus = BonusTypeFactory(retailer=retailer, code="coffee")
    PastOfferFactory(retailer=retailer, external_id="-O1", bonus_type=bonus)
    return PastOffer.objects.for_retailer(retailer)


EXPECTED_CELLS = {
    "stores": {"name": "'=HYPERLINK(1)"},
    "products": {"brand": "'@evil", "name": "'-50% promo", "price": "2.00"},
    "customers": {"age_band": "'+65", "enrolled_on": "2024-01-15"},
    "transactions": {"transaction_id": "'=1+1", "quantity": "-1.000", "amount": "-1.89"},
    "inventory": {"sku": "'@SUM(A1)", "store_id": "", "on_hand": "3"},
    "competitor_prices": {"competitor": "'\tTab", "price": "1.00"},
    "offers": {"offer_id": "'-O1", "bonus_type": "coffee", "redeemed_on": ""},
}


@pytest.mark.parametrize("kind", KINDS)
def test_export_neutralises_formula_text_but_not_numbers(retailer, kind):
    queryset = formula_rows(kind, retailer)
    resource = resource_class_for(kind)()
    dataset = resource.export(queryset=queryset)
    # The admin's export format writes through loyalty_site.safe_csv, as tablib's own CSV does.
    for text in (dataset.csv, ContractCSV().export_data(dataset)):
        rows = list(csv.DictReader(io.StringIO(text)))
        assert list(rows[0]) == resource.contract_columns()
        assert len(rows) == 1
        for column, value in EXPECTED_CELLS[kind].items():
            assert rows[0][column] == value


def test_export_then_import_round_trips_a_transaction_file(prepared):
    retailer = prepared("transactions")
    run_import(retailer, "transactions", (SAMPLES / "transactions.csv").read_bytes())
    lines = TransactionLine.objects.for_retailer(retailer).order_by("transaction_id", "line_no")
    exported = resource_class_for("transactions")().export(queryset=lines).csv
    assert "2024-06-01T10:15:00+03:00" in exported  # retailer's zone, with its offset
    again = run_import(retailer, "transactions", exported.encode())
    assert again == {"rows": 5, "new": 0, "updated": 0, "skipped": 5}
