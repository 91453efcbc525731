"""Hostile input: CSV files that are wrong in every way a real export can be wrong, API bodies
that are malformed, mistyped or oversized, and property-based tests of the cell readers.

Every rejected file must name the row (and the column when there is one), import nothing, and
leave the rows already stored exactly as they were. Paths: ``retailers.services.import_file_run``
(what ``manage.py import_csv`` and the admin's reader use; transactions go through the bulk
loader of ``import_transactions``), the ``import_csv`` command itself, and the admin upload.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import json
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Transaction, TransactionLine
from loyalty_site.safe_csv import neutralise_formula
from retailers.exceptions import ImportRejected
from retailers.models import ImportKind, InventoryLevel, Product, Role
from retailers.resources import (
    DateCell,
    DecimalCell,
    IntegerCell,
    ProductResource,
    TimestampCell,
)
from retailers.services import import_file_run
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import ProductFactory, StoreFactory

PRODUCTS_HEADER = "sku,name,category,brand,unit_cost,price"
TX_HEADER = "transaction_id,customer_id,store_id,timestamp,sku,quantity,amount,discount"
TX_OK = "T1,C1,S1,2024-06-01T10:00:00,KEEP,1,2.50,0"
FORMULA = "=cmd|' /C calc'!A0"


def png_bytes() -> bytes:
    """A real 1x1 PNG image."""
    raw = b"\x00\xff\x00\x00"
    ihdr = (1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def stored(retailer, tmp_path_factory):
    """What the retailer already has: one product, store, customer and transaction."""
    keep = ProductFactory(retailer=retailer, sku="KEEP", name="Kept", price=Decimal("3.00"))
    StoreFactory(retailer=retailer, external_id="S1")
    CustomerFactory(retailer=retailer, external_id="C1")
    folder = tmp_path_factory.mktemp("stored")
    import_file_run(
        retailer=retailer, kind=ImportKind.TRANSACTIONS, path=write_csv(folder, TX_HEADER, TX_OK)
    )
    return keep


def write_csv(folder: Path, *lines: str, raw: bytes | None = None) -> Path:
    path = folder / "upload.csv"
    path.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode())
    return path


def state(retailer) -> tuple:
    """Everything an import could change, to prove a rejected one changed nothing."""
    return (
        sorted(Product.objects.for_retailer(retailer).values_list("sku", "name", "price")),
        Transaction.objects.count(),
        sorted(TransactionLine.objects.values_list("transaction__external_id", "quantity")),
        InventoryLevel.objects.count(),
    )


BIG = "x" * 1_048_576
#: (case id, kind, file bytes, expected (row, column) of the first error; column "" = whole row)
REJECTED = [
    (
        "products-latin1",
        ImportKind.PRODUCTS,
        f"{PRODUCTS_HEADER}\nP1,Caf\xe9 cr\xe8me,,,1.00,2.00\n".encode("latin-1"),
        (2, ""),
    ),
    ("products-utf16", ImportKind.PRODUCTS, f"{PRODUCTS_HEADER}\n".encode("utf-16"), (1, "")),
    (
        "products-missing-column",
        ImportKind.PRODUCTS,
        b"sku,name,unit_cost\nP1,x,1.00\n",
        (1, "price"),
    ),
    (
        "products-extra-column",
        ImportKind.PRODUCTS,
        f"{PRODUCTS_HEADER},colour\nP1,x,,,1.00,2.00,red\n".encode(),
        (1, "colour"),
    ),
    (
        "products-duplicate-sku",
        ImportKind.PRODUCTS,
        f"{PRODUCTS_HEADER}\nP1,x,,,1.00,2.00\nP1,y,,,1.00,2.00\n".encode(),
        (3, "sku"),
    ),
    (
        "products-negative-price",
        ImportKind.PRODUCTS,
        f"{PRODUCTS_HEADER}\nP1,x,,,1.00,-2.00\n".encode(),
        (2, "price"),
    ),
    (
        "products-short-row",
        ImportKind.PRODUCTS,
        f"{PRODUCTS_HEADER}\nP1,x,,,1.00\n".encode(),
        (2, ""),
    ),
    (
        "products-huge-cell",
        ImportKind.PRODUCTS,
        f"{PRODUCTS_HEADER}\nP1,{BIG},,,1,2\n".encode(),
        (2, ""),
    ),
    ("products-empty", ImportKind.PRODUCTS, b"", (1, "")),
    ("products-png", ImportKind.PRODUCTS, png_bytes(), (1, "")),
    (
        "inventory-impossible-date",
        ImportKind.INVENTORY,
        b"sku,store_id,date,on_hand\nKEEP,S1,2024-02-30,3\n",
        (2, "date"),
    ),
    (
        "tx-latin1",
        ImportKind.TRANSACTIONS,
        f"{TX_HEADER}\nT2,C1,S1,2024-06-01T10:00:00,KEEP,1,2.50,0\nT3,C\xe9,S1,x,KEEP,1,1,0\n".encode(
            "latin-1"
        ),
        (3, ""),
    ),
    (
        "tx-missing-column",
        ImportKind.TRANSACTIONS,
        b"transaction_id,customer_id\nT2,C1\n",
        (1, "store_id"),
    ),
    (
        "tx-opposite-signs",
        ImportKind.TRANSACTIONS,
        f"{TX_HEADER}\nT2,C1,S1,2024-06-01T10:00:00,KEEP,1,-2.50,0\n".encode(),
        (2, "amount"),
    ),
    (
        "tx-impossible-date",
        ImportKind.TRANSACTIONS,
        f"{TX_HEADER}\nT2,C1,S1,2024-02-30T10:00:00,KEEP,1,2.50,0\n".encode(),
        (2, "timestamp"),
    ),
    (
        "tx-huge-cell",
        ImportKind.TRANSACTIONS,
        f"{TX_HEADER}\nT2,C1,S1,2024-06-01T10:00:00,KEEP,1,2.50,0\nT3,{BIG},S1,x,KEEP,1,1,0\n".encode(),
        (3, "customer_id"),
    ),
    ("tx-empty", ImportKind.TRANSACTIONS, b"", (1, "")),
    ("tx-png", ImportKind.TRANSACTIONS, png_bytes(), (1, "")),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "content", "first"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_hostile_file_is_rejected_naming_row_and_column_and_changes_nothing(
    stored, retailer, tmp_path, kind, content, first
):
    before = state(retailer)
    with pytest.raises(ImportRejected) as rejected:
        import_file_run(retailer=retailer, kind=kind, path=write_csv(tmp_path, raw=content))
    errors = rejected.value.errors
    assert errors, "a rejection must list at least one error"
    row, column = first
    listed = [str(e) for e in errors]
    assert errors[0].row == row, listed
    # The column is named: as the error's column, or in its message (a list of missing columns).
    assert any(e.column == column or (not e.column and column in e.message) for e in errors), listed
    assert all(len(e.message) < 500 for e in errors), "messages must stay readable (no 1 MB echo)"
    assert state(retailer) == before  # nothing imported, nothing lost


@pytest.mark.django_db
def test_header_only_file_is_a_no_op_on_both_paths(stored, retailer, tmp_path):
    before = state(retailer)
    products = write_csv(tmp_path, raw=f"{PRODUCTS_HEADER}\r\n".encode())
    assert import_file_run(retailer=retailer, kind=ImportKind.PRODUCTS, path=products) == {
        "rows": 0,
        "new": 0,
        "updated": 0,
        "skipped": 0,
    }
    tx = write_csv(tmp_path, raw=f"{TX_HEADER}\n".encode())
    result = import_file_run(retailer=retailer, kind=ImportKind.TRANSACTIONS, path=tx)
    assert (result["lines_read"], result["lines_created"]) == (0, 0)
    assert state(retailer) == before


@pytest.mark.django_db
def test_byte_order_mark_is_accepted_on_both_paths(stored, retailer, tmp_path):
    bom = codecs.BOM_UTF8
    products = write_csv(tmp_path, raw=bom + f"{PRODUCTS_HEADER}\nP1,x,,,1.00,2.00\n".encode())
    assert import_file_run(retailer=retailer, kind=ImportKind.PRODUCTS, path=products)["new"] == 1
    tx = write_csv(
        tmp_path, raw=bom + f"{TX_HEADER}\nT2,C1,S1,2024-06-01T11:00:00,KEEP,1,2.50,0\n".encode()
    )
    result = import_file_run(retailer=retailer, kind=ImportKind.TRANSACTIONS, path=tx)
    assert result["lines_created"] == 1


@pytest.mark.django_db
def test_a_return_with_negative_quantity_and_amount_is_accepted(stored, retailer, tmp_path):
    path = write_csv(tmp_path, TX_HEADER, "R1,C1,S1,2024-06-02T10:00:00,KEEP,-1,-2.50,0")
    result = import_file_run(retailer=retailer, kind=ImportKind.TRANSACTIONS, path=path)
    assert result["lines_created"] == 1
    line = TransactionLine.objects.get(transaction__external_id="R1")
    assert (line.quantity, line.amount) == (Decimal("-1.000"), Decimal("-2.50"))


@pytest.mark.django_db
def test_same_transactions_file_twice_writes_nothing_twice(stored, retailer, tmp_path):
    path = write_csv(tmp_path, TX_HEADER, "T5,C1,S1,2024-06-02T10:00:00,KEEP,2,5.00,0")
    import_file_run(retailer=retailer, kind=ImportKind.TRANSACTIONS, path=path)
    again = import_file_run(retailer=retailer, kind=ImportKind.TRANSACTIONS, path=path)
    assert again["lines_created"] == 0
    assert again["transactions_skipped"] == 1
    assert TransactionLine.objects.filter(transaction__external_id="T5").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [FORMULA, "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_formula_is_stored_as_text_and_exported_neutralised(retailer, tmp_path, payload):
    quoted = '"' + payload.replace('"', '""') + '"'
    path = write_csv(tmp_path, PRODUCTS_HEADER, f"P1,{quoted},{quoted},,1.00,2.00")
    import_file_run(retailer=retailer, kind=ImportKind.PRODUCTS, path=path)
    product = Product.objects.get(retailer=retailer, sku="P1")
    assert product.name == payload.strip()  # cells are trimmed; the formula is kept as text
    exported = ProductResource(retailer=retailer).export(Product.objects.for_retailer(retailer))
    row = dict(zip(exported.headers, exported[0], strict=True))
    assert row["name"] == "'" + product.name
    assert row["category"] == "'" + product.category
    assert not str(row["name"]).startswith(("=", "+", "-", "@"))


@pytest.mark.django_db
def test_import_csv_command_names_row_and_column_and_imports_nothing(
    stored, retailer, tmp_path, capsys
):
    path = write_csv(tmp_path, PRODUCTS_HEADER, "P1,x,,,1.00,2.00", "P2,y,,,abc,2.00")
    before = state(retailer)
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_csv", "products", str(path), "--retailer", retailer.slug)
    assert "row 3, column unit_cost" in capsys.readouterr().err
    assert state(retailer) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("image.png", png_bytes(), "not a text file"),
        ("latin1.csv", f"{PRODUCTS_HEADER}\nP1,Caf\xe9,,,1,2\n".encode("latin-1"), "not UTF-8"),
        ("empty.csv", b"", "empty"),
    ],
)
def test_admin_upload_of_a_hostile_file_shows_the_error_and_imports_nothing(
    stored, retailer, make_staff, client, name, content, message
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(make_staff(retailer, Role.ANALYST))
    before = state(retailer)
    response = client.post(
        "/admin/retailers/product/import/",
        {
            "retailer": retailer.pk,
            "format": "0",
            "import_file": SimpleUploadedFile(name, content),
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert "confirm" not in body.lower() or "Confirm import" not in body
    assert state(retailer) == before


# --- API bodies ---------------------------------------------------------------------------------


@pytest.fixture
def till(api_client, retailer):
    from tests.campaigns.rewards_factories import token_client

    StoreFactory(retailer=retailer, external_id="S1")
    ProductFactory(retailer=retailer, sku="A")
    CustomerFactory(retailer=retailer, external_id="C1")
    client, _, _ = token_client(api_client, retailer)
    return client


API_BAD_BODIES = [
    ("not-json", "/api/v1/transactions/", b"{not json", 400),
    ("json-array", "/api/v1/transactions/", b"[1, 2, 3]", 400),
    ("json-null", "/api/v1/redemptions/", b"null", 400),
    (
        "wrong-types",
        "/api/v1/transactions/",
        json.dumps(
            {"transaction_id": 5, "customer_id": ["C1"], "timestamp": "yesterday", "lines": "many"}
        ).encode(),
        400,
    ),
    ("points-text", "/api/v1/points/redeem/", b'{"customer_id": "C1", "points": "lots"}', 400),
    (
        "nan-amount",
        "/api/v1/transactions/",
        json.dumps(
            {
                "transaction_id": "T1",
                "customer_id": "C1",
                "timestamp": "2024-06-01T10:00:00Z",
                "lines": [{"sku": "A", "quantity": "1", "amount": "NaN"}],
            }
        ).encode(),
        400,
    ),
    ("oversized", "/api/v1/transactions/", b'{"pad": "' + b"x" * 300_000 + b'"}', 413),
    ("scoring-bad-date", "/api/v1/scoring-runs/", b'{"as_of": "2024-02-30"}', 400),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "status"), [c[1:] for c in API_BAD_BODIES], ids=[c[0] for c in API_BAD_BODIES]
)
def test_api_refuses_malformed_bodies_with_a_clear_error(till, path, body, status):
    before = (Transaction.objects.count(), TransactionLine.objects.count())
    response = till.generic(
        "POST", path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    assert (Transaction.objects.count(), TransactionLine.objects.count()) == before


@pytest.mark.django_db
def test_api_refuses_a_form_encoded_body(till):
    response = till.post("/api/v1/transactions/", {"transaction_id": "T1"}, format="multipart")
    assert response.status_code in (400, 415)


# --- Property-based tests of the cell readers ---------------------------------------------------

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=60))
def test_cells_never_crash_on_any_text(text):
    """Any text is either read or refused with ValueError (never another exception)."""
    for cell in (DecimalCell(), IntegerCell(), DateCell(), TimestampCell()):
        with contextlib.suppress(ValueError):
            cell.clean(text)


@FAST
@given(
    st.decimals(
        min_value=Decimal("-9999999999.99"),
        max_value=Decimal("9999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_money_round_trips(value):
    cell = DecimalCell()
    assert cell.clean(cell.render(value)) == value
    assert cell.clean(f"  {value}  ") == value


@FAST
@given(
    st.decimals(
        min_value=Decimal("-99999999.999"),
        max_value=Decimal("99999999.999"),
        places=3,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_quantity_round_trips(value):
    cell = DecimalCell()
    assert cell.clean(cell.render(value)) == value


@FAST
@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_integer_round_trips(value):
    assert IntegerCell().clean(IntegerCell().render(value)) == value


@FAST
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_dates_round_trip(value):
    assert DateCell().clean(DateCell().render(value)) == value


@FAST
@given(
    st.datetimes(
        min_value=dt.datetime(1970, 1, 2),  # noqa: DTZ001 - naive bound; the zone comes next
        timezones=st.just(dt.UTC),
    )
)
def test_timestamps_round_trip(value):
    cell = TimestampCell()
    assert cell.clean(cell.render(value)) == value


@FAST
@given(st.sampled_from(["NaN", "Infinity", "1e5", "1,000.00", "0x10", "١٢"]) | st.text(max_size=3))
def test_money_refuses_floats_exponents_and_separators(text):
    stripped = text.strip()
    if (
        stripped
        and all(c in "0123456789." for c in stripped.lstrip("+-"))
        and any(c.isdigit() for c in stripped)
        and stripped.count(".") <= 1
        and stripped.isascii()
    ):
        return  # a plain decimal: accepted
    if not stripped:
        return
    with pytest.raises(ValueError, match="expected"):
        DecimalCell().clean(text)


@FAST
@given(st.text(max_size=40))
def test_neutralised_text_never_starts_a_formula(text):
    out = neutralise_formula(text)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert out in (text, "'" + text)


def test_impossible_dates_are_refused():
    for text in ("2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "24-01-01"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            DateCell().clean(text)
    assert DateCell().clean("2024-02-29") == dt.date(2024, 2, 29)


NON_ASCII_TWELVES = ["\u0661\u0662", "\uff11\uff12", "\u06f1\u06f2.\u06f5\u06f0", "\u0967\u0968"]


@pytest.mark.parametrize("text", NON_ASCII_TWELVES)
def test_numbers_in_non_ascii_digits_are_refused(text):
    """Arabic-Indic, full-width, Persian and Devanagari digits are not silently read as 12."""
    for cell in (DecimalCell(), IntegerCell()):
        with pytest.raises(ValueError, match="expected"):
            cell.clean(text)
