"""Cells, formula neutralisation and the retailer-side resources (stores, products, inventory,
competitor prices). The seven-kind contract tests are in ``test_import_contract.py``.

The helpers at the top are shared by the other import test modules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from loyalty_site.safe_csv import neutralise_formula
from retailers.exceptions import ImportRejected
from retailers.models import InventoryLevel, Product, Store
from retailers.resources import (
    BooleanCell,
    DateCell,
    DecimalCell,
    IntegerCell,
    ProductResource,
    TimestampCell,
)
from retailers.services import import_dataset_run, read_csv
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def csv_bytes(*lines: str) -> bytes:
    """A CSV file from its lines (header first)."""
    return ("\n".join(lines) + "\n").encode()


def run_import(retailer, kind: str, data: bytes) -> dict[str, int]:
    """Import ``data`` of ``kind`` into ``retailer`` the way the command and the task do."""
    return import_dataset_run(retailer=retailer, kind=kind, dataset=read_csv([data]))


def rejected_cells(retailer, kind: str, data: bytes) -> set[tuple[int, str]]:
    """The (row, column) of every error of a file that must be rejected."""
    with pytest.raises(ImportRejected) as info:
        run_import(retailer, kind, data)
    return {(error.row, error.column) for error in info.value.errors}


def grant_import_permissions(user) -> None:
    """Django model permissions a staff user needs for the data admins (view, add, change)."""
    perms = Permission.objects.filter(
        content_type__app_label__in=["retailers", "customers", "campaigns"]
    ).exclude(codename__startswith="delete_")
    user.user_permissions.add(*perms)


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-rebate", "'-rebate"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Oat drink", "Oat drink"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_formula_prefixes_dangerous_text_only(text, expected):
    assert neutralise_formula(text) == expected


def test_decimal_cell_reads_plain_decimals_and_never_floats():
    cell = DecimalCell()
    assert cell.clean(" 12.50 ") == Decimal("12.50")
    assert cell.clean("-1") == Decimal("-1")
    assert cell.clean("") is None
    for bad in ("1e3", "NaN", "1,5", "12.5.1", "inf", "abc"):
        with pytest.raises(ValueError, match="expected a number"):
            cell.clean(bad)
    with pytest.raises(ValueError, match="a value is required"):
        DecimalCell(required=True).clean("  ")


def test_integer_date_and_boolean_cells_reject_loose_values():
    assert IntegerCell().clean("+3") == 3
    with pytest.raises(ValueError, match="whole number"):
        IntegerCell().clean("2.5")
    assert DateCell().clean("2024-02-29") == dt.date(2024, 2, 29)
    for bad in ("2023-02-29", "01/02/2024", "20240101", "2024-1-1"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            DateCell().clean(bad)
    assert BooleanCell().clean("Yes") is True
    assert BooleanCell().clean("0") is False
    assert BooleanCell().clean("") is False
    with pytest.raises(ValueError, match="true/false"):
        BooleanCell().clean("maybe")


@pytest.mark.django_db
def test_timestamp_cell_uses_retailer_zone_for_naive_times_and_keeps_offsets():
    cell = TimestampCell()
    cell.bind(retailer=RetailerFactory(time_zone="Europe/Helsinki"), column="timestamp")
    summer = cell.clean("2024-06-01T10:15:00")
    assert summer.astimezone(dt.UTC) == dt.datetime(2024, 6, 1, 7, 15, tzinfo=dt.UTC)
    assert cell.clean("2024-06-01T10:15:00Z") == dt.datetime(2024, 6, 1, 10, 15, tzinfo=dt.UTC)
    offset = cell.clean("2024-01-01 10:00:00+01:00")
    assert offset.astimezone(dt.UTC) == dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)
    for bad in ("2024-06-01", "yesterday", "2024-06-01T25:00"):
        with pytest.raises(ValueError, match="ISO 8601"):
            cell.clean(bad)
    assert cell.render(summer) == "2024-06-01T10:15:00+03:00"


# --- retailer-side resources ------------------------------------------------------------------


@pytest.mark.django_db
def test_product_resource_updates_changed_rows_and_skips_unchanged(retailer):
    ProductFactory(retailer=retailer, sku="P1", name="Old", unit_cost=Decimal("1.00"))
    ProductFactory(retailer=retailer, sku="P2", name="Same", unit_cost="1.20", price="2.00")
    summary = run_import(
        retailer,
        "products",
        csv_bytes(
            "sku,name,category,brand,unit_cost,price",
            "P1,New,Grocery,House,1.10,2.00",
            "P2,Same,Grocery,House,1.20,2.00",
            "P3,Fresh,Grocery,House,0.50,0.99",
        ),
    )
    assert summary == {"rows": 3, "new": 1, "updated": 1, "skipped": 1}
    p1 = Product.objects.get(retailer=retailer, sku="P1")
    assert (p1.name, p1.unit_cost) == ("New", Decimal("1.10"))


@pytest.mark.django_db
def test_resources_never_touch_another_retailers_rows(retailer, other_retailer):
    theirs = StoreFactory(retailer=other_retailer, external_id="S001", name="Theirs")
    run_import(retailer, "stores", csv_bytes("store_id,name,region", "S001,Mine,North"))
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert Store.objects.get(retailer=retailer, external_id="S001").name == "Mine"


@pytest.mark.django_db
def test_inventory_resource_resolves_keys_only_inside_the_retailer(retailer, other_retailer):
    ProductFactory(retailer=other_retailer, sku="P-THEIRS")
    StoreFactory(retailer=other_retailer, external_id="S-THEIRS")
    ProductFactory(retailer=retailer, sku="P1")
    cells = rejected_cells(
        retailer,
        "inventory",
        csv_bytes(
            "sku,store_id,date,on_hand",
            "P-THEIRS,,2024-06-01,5",
            "P1,S-THEIRS,2024-06-01,5",
        ),
    )
    assert cells == {(2, "sku"), (3, "store_id")}
    with pytest.raises(ImportRejected, match="unknown sku 'P-THEIRS'"):
        run_import(
            retailer, "inventory", csv_bytes("sku,store_id,date,on_hand", "P-THEIRS,,2024-06-01,1")
        )


@pytest.mark.django_db
def test_inventory_resource_keeps_chain_and_store_rows_apart(retailer):
    ProductFactory(retailer=retailer, sku="P1")
    StoreFactory(retailer=retailer, external_id="S1")
    data = csv_bytes("sku,store_id,date,on_hand", "P1,,2024-06-01,100", "P1,S1,2024-06-01,7")
    assert run_import(retailer, "inventory", data)["new"] == 2
    changed = csv_bytes("sku,store_id,date,on_hand", "P1,,2024-06-01,90")
    assert run_import(retailer, "inventory", changed) == {
        "rows": 1,
        "new": 0,
        "updated": 1,
        "skipped": 0,
    }
    levels = dict(InventoryLevel.objects.values_list("store__external_id", "on_hand"))
    assert levels == {None: 90, "S1": 7}


@pytest.mark.django_db
def test_duplicate_natural_key_in_one_file_names_the_first_row(retailer):
    cells = rejected_cells(
        retailer,
        "products",
        csv_bytes(
            "sku,name,category,brand,unit_cost,price",
            "P1,A,,,1.00,2.00",
            "P2,B,,,1.00,2.00",
            "P1,C,,,1.00,2.00",
        ),
    )
    assert cells == {(4, "sku")}
    with pytest.raises(ImportRejected, match="same sku as row 2"):
        run_import(
            retailer,
            "products",
            csv_bytes("sku,name,category,brand,unit_cost,price", "P1,A,,,1,2", "P1,C,,,1,2"),
        )


@pytest.mark.django_db
def test_header_problems_name_missing_and_unknown_columns(retailer):
    cells = rejected_cells(
        retailer, "products", csv_bytes("sku,name,category,brand,price,colour", "P1,A,,,2.00,red")
    )
    assert cells == {(1, "unit_cost"), (1, "colour")}


def test_resources_list_their_contract_columns_and_build_without_retailer():
    assert ProductResource.contract_columns() == [
        "sku",
        "name",
        "category",
        "brand",
        "unit_cost",
        "price",
    ]
    # The library's forms build resources without arguments.
    assert ProductResource().get_export_headers() == ProductResource.contract_columns()
