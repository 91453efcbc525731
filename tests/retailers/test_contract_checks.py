"""retailers.contract_checks: the model's and the resource's rules applied column by column
give the messages one ``full_clean`` per row gave, and the set-wise writes of big files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers.models import Customer
from retailers.contract_checks import field_values_checked
from retailers.exceptions import ImportRejected, RowError
from retailers.models import InventoryLevel, Product
from tests.retailers.factories import ProductFactory, StoreFactory
from tests.retailers.test_resources import csv_bytes, run_import

ADDRESSES = [
    "a@b.co",
    "A.B+c_d-e@Sub.Example.ORG",
    "a..b@example.com",
    ".a@example.com",
    "a@-x.com",
    "a@x-.com",
    "a@x",
    "a@x.c",
    "user@localhost",
    '"quoted name"@example.com',
    "a@[127.0.0.1]",
    "a@[999.0.0.1]",
    "no-at-sign",
    "a@b@example.com",
    "é@example.com",
    "a@xn--bcher-kva.example",
    "x" * 250 + "@example.com",
    "a@example.com\n",
]


def django_messages(field, values):
    """What ``Field.clean`` (the check ``full_clean`` runs) says about each value."""
    found = {}
    for row, value in enumerate(values):
        if field.blank and value in field.empty_values:
            continue
        try:
            field.clean(value, None)
        except ValidationError as exc:
            found[row] = {field.name: exc.messages}
    return found


@pytest.mark.parametrize(
    ("model", "name", "values"),
    [
        (Customer, "email", ADDRESSES),
        (Product, "sku", ["P1", "", "x" * 64, "x" * 65, "a\x00b"]),
        (Product, "name", ["", "fine", "y" * 301]),
        (Product, "price", [Decimal("1.0"), Decimal("1.000"), Decimal("-1"), Decimal("1" * 11)]),
        (Customer, "household_size", [None, 0, 1, 40_000]),
    ],
)
def test_column_checks_say_what_the_field_says_row_by_row(model, name, values):
    field = model._meta.get_field(name)
    errors: dict = {}
    field_values_checked(field, values, errors)
    assert errors == django_messages(field, values)
    assert errors  # every case has at least one bad value


def test_every_bad_row_is_named_and_nothing_is_written(retailer):
    ProductFactory(retailer=retailer, sku="P1")
    data = csv_bytes(
        "customer_id,enrolled_on,email,household_size",
        "C1,2024-01-15,c1@example.com,2",
        "C2,2024-01-15,not-an-address,2",
        "C1,2024-01-16,,1",
        "C4,15/01/2024,,0",
        "C5,2024-01-15,,",
    )
    with pytest.raises(ImportRejected) as info:
        run_import(retailer, "customers", data)
    assert info.value.errors == [
        RowError(3, "email", "Enter a valid email address."),
        RowError(4, "customer_id", "same customer_id as row 2"),
        RowError(5, "enrolled_on", "expected a date as YYYY-MM-DD, got '15/01/2024'"),
        RowError(5, "household_size", "Ensure this value is greater than or equal to 1."),
    ]
    assert not Customer.objects.filter(retailer=retailer).exists()


def test_big_files_are_written_with_copy_and_updated_through_a_staging_table(retailer):
    rows = 1_000
    for sku in ("P1", "P2"):
        ProductFactory(retailer=retailer, sku=sku)
    StoreFactory(retailer=retailer, external_id="S1")
    day = dt.date(2024, 1, 1)
    lines = [
        f"P{i % 2 + 1},{'S1' if i % 4 < 2 else ''},{day + dt.timedelta(days=i // 4)},{i}"
        for i in range(rows)
    ]
    header = "sku,store_id,date,on_hand"
    assert run_import(retailer, "inventory", csv_bytes(header, *lines))["new"] == rows
    changed = [
        f"{line.rsplit(',', 1)[0]},{rows + i}" if i % 2 else line for i, line in enumerate(lines)
    ]
    summary = run_import(retailer, "inventory", csv_bytes(header, *changed))
    assert (summary["new"], summary["updated"], summary["skipped"]) == (0, rows // 2, rows // 2)
    stored = InventoryLevel.objects.filter(retailer=retailer)
    assert stored.count() == rows
    assert stored.filter(on_hand__gte=rows).count() == rows // 2
    assert stored.filter(store__isnull=True).count() == rows // 2
