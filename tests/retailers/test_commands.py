"""manage.py create_retailer and import_csv."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from retailers.models import Product, Retailer, Store
from tests.retailers.factories import ProductFactory
from tests.retailers.test_resources import SAMPLES, csv_bytes

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_retailer_creates_a_tenant_and_prints_it():
    out, _ = run(
        "create_retailer", "acme", "--name", "Acme Foods", "--time-zone", "Europe/Helsinki"
    )
    assert out == "Created retailer acme (Acme Foods, EUR, Europe/Helsinki).\n"
    acme = Retailer.objects.get(slug="acme")
    assert (acme.currency, acme.time_zone) == ("EUR", "Europe/Helsinki")


def test_create_retailer_refuses_bad_values_and_taken_slugs(retailer):
    with pytest.raises(CommandError, match="currency: Use a three-letter ISO 4217 code"):
        run("create_retailer", "new-one", "--name", "N", "--currency", "euro")
    with pytest.raises(CommandError, match="time_zone: 'Mars/Base' is not a known time zone"):
        run("create_retailer", "new-one", "--name", "N", "--time-zone", "Mars/Base")
    with pytest.raises(CommandError, match="slug: Retailer with this Slug already exists"):
        run("create_retailer", retailer.slug, "--name", "Again")


def test_import_csv_imports_a_file_and_prints_a_one_line_summary(retailer):
    out, err = run("import_csv", "products", str(SAMPLES / "products.csv"), "--retailer", "acme")
    assert (
        out == "Imported products.csv (products) into acme: rows 4, new 4, updated 0, skipped 0.\n"
    )
    assert err == ""
    assert Product.objects.for_retailer(retailer).count() == 4
    out, _ = run("import_csv", "products", str(SAMPLES / "products.csv"), "--retailer", "acme")
    assert "new 0, updated 0, skipped 4" in out


def test_import_csv_prints_every_bad_row_and_fails(retailer, tmp_path):
    path = tmp_path / "stores.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + csv_bytes("store_id,name,region", ",A,N", "S2,B,N", "S2,C,N", ",D,N")
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"stores.csv rejected: 3 error\(s\), nothing imported"):
        call_command("import_csv", "stores", str(path), "--retailer", "acme", stderr=err)
    assert err.getvalue().splitlines() == [
        "row 2, column store_id: a value is required",
        "row 4, column store_id: same store_id as row 3",
        "row 5, column store_id: a value is required",
    ]
    assert not Store.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "row 1: the file is empty"),
        ("store_id,name,region\nS1,Jyväs,N\n".encode("cp1252"), "row 2: the file is not UTF-8"),
        (b"store_id,name\nS1,A\n", "row 1, column region: required column is missing"),
        (b"store_id,name,region,size\nS1,A,N,9\n", "row 1, column size: unknown column"),
    ],
)
def test_import_csv_names_file_problems(retailer, tmp_path, content, message):
    path = tmp_path / "stores.csv"
    path.write_bytes(content)
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_csv", "stores", str(path), "--retailer", "acme", stderr=err)
    assert err.getvalue().startswith(message)


def test_import_csv_refuses_unknown_retailers_files_and_options(retailer, tmp_path):
    sample = str(SAMPLES / "stores.csv")
    with pytest.raises(CommandError, match="no retailer with slug 'nope'"):
        run("import_csv", "stores", sample, "--retailer", "nope")
    with pytest.raises(CommandError, match="no such file"):
        run("import_csv", "stores", str(tmp_path / "missing.csv"), "--retailer", "acme")
    with pytest.raises(CommandError, match="applies to transactions only"):
        run("import_csv", "stores", sample, "--retailer", "acme", "--create-missing-customers")
    with pytest.raises(CommandError, match="invalid choice: 'shops'"):
        run("import_csv", "shops", sample, "--retailer", "acme")


def test_import_csv_resolves_ids_only_inside_the_given_retailer(retailer, other_retailer):
    ProductFactory(retailer=other_retailer, sku="P1001")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_csv",
            "competitor_prices",
            str(SAMPLES / "competitor_prices.csv"),
            "--retailer",
            "acme",
            stderr=err,
        )
    assert err.getvalue().splitlines()[0] == "row 2, column sku: unknown sku 'P1001'"


def bulk_loader():
    """The bulk transaction loader, or skip while it is not merged."""
    services = pytest.importorskip("customers.services")
    if not hasattr(services, "transactions_bulk_import"):
        pytest.skip("customers.services.transactions_bulk_import is not merged yet")
    return services.transactions_bulk_import


def test_import_csv_hands_transactions_to_the_bulk_loader(retailer):
    bulk_loader()
    for kind in ("stores", "products", "customers"):
        run("import_csv", kind, str(SAMPLES / f"{kind}.csv"), "--retailer", "acme")
    out, _ = run(
        "import_csv", "transactions", str(SAMPLES / "transactions.csv"), "--retailer", "acme"
    )
    assert out.startswith("Imported transactions.csv (transactions) into acme: ")
    from customers.models import TransactionLine

    assert TransactionLine.objects.for_retailer(retailer).count() == 5


def test_import_csv_prints_the_bulk_loaders_rejections(retailer, tmp_path):
    bulk_loader()
    path = tmp_path / "transactions.csv"
    path.write_bytes(b"transaction_id,customer_id,sku\nT1,C1,P1\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_csv", "transactions", str(path), "--retailer", "acme", stderr=err)
    assert err.getvalue().startswith("row 1")
    assert "store_id" in err.getvalue()


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("stores", "store_id,name,region"),
        ("products", "sku,name,category,brand,unit_cost,price"),
        ("customers", "customer_id,enrolled_on"),
        ("inventory", "sku,store_id,date,on_hand"),
        ("competitor_prices", "sku,competitor,date,price"),
        ("offers", "offer_id,customer_id,bonus_type,sent_on,valid_until,redeemed_on"),
        (
            "transactions",
            "transaction_id,customer_id,store_id,timestamp,sku,quantity,amount,discount",
        ),
    ],
)
def test_import_csv_of_a_header_only_file_imports_nothing_and_succeeds(
    retailer, tmp_path, kind, header
):
    path = tmp_path / f"{kind}.csv"
    path.write_text(header + "\r\n")
    out, err = run("import_csv", kind, str(path), "--retailer", "acme")
    assert out == (
        f"{kind}.csv ({kind}): the file has a header and no data rows: "
        "nothing new to import (0 rows imported).\n"
    )
    assert err == ""


def test_import_csv_still_refuses_a_header_only_file_with_wrong_columns_or_no_header(
    retailer, tmp_path
):
    path = tmp_path / "products.csv"
    path.write_text("sku,name,colour\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="rejected"):
        call_command("import_csv", "products", str(path), "--retailer", "acme", stderr=err)
    assert "row 1, column unit_cost: required column is missing" in err.getvalue()
    path.write_text("")
    with pytest.raises(CommandError, match="rejected"):
        call_command("import_csv", "products", str(path), "--retailer", "acme", stderr=err)
    assert "the file is empty" in err.getvalue()
