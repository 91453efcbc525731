"""Customer and transaction admins: the transactions preview -> confirm flow, exports, lines."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, Transaction, TransactionLine
from retailers.models import Role
from tests.customers.factories import CustomerFactory, TransactionLineFactory
from tests.retailers.factories import ProductFactory, StoreFactory
from tests.retailers.test_resources import SAMPLES, grant_import_permissions

pytestmark = pytest.mark.django_db

TRANSACTIONS = (SAMPLES / "transactions.csv").read_bytes()


@pytest.fixture
def staff_client(client, staff_user):
    grant_import_permissions(staff_user)
    client.force_login(staff_user)
    return client


@pytest.fixture
def shop(retailer):
    for sid in ("S001", "S002"):
        StoreFactory(retailer=retailer, external_id=sid)
    for sku in ("P1001", "P1002", "P1003", "P1004"):
        ProductFactory(retailer=retailer, sku=sku)
    for cid in ("C0001", "C0002"):
        CustomerFactory(retailer=retailer, external_id=cid)
    return retailer


def preview_and_confirm(client, retailer, data: bytes):
    upload = SimpleUploadedFile("transactions.csv", data, content_type="text/csv")
    preview = client.post(
        reverse("admin:customers_transaction_import"),
        {"retailer": retailer.pk, "format": "0", "import_file": upload},
    )
    assert preview.status_code == 200
    form = preview.context["confirm_form"]
    names = ("import_file_name", "original_file_name", "format", "resource", "retailer")
    done = client.post(
        reverse("admin:customers_transaction_process_import"),
        {name: form.initial.get(name, "") for name in names},
    )
    return preview, done


def test_admin_transaction_import_previews_then_creates_baskets_and_lines(staff_client, shop):
    preview, done = preview_and_confirm(staff_client, shop, TRANSACTIONS)
    assert [r.import_type for r in preview.context["result"].valid_rows()] == ["new"] * 5
    assert done.status_code == 302
    assert Transaction.objects.for_retailer(shop).count() == 3
    assert TransactionLine.objects.for_retailer(shop).count() == 5
    basket = Transaction.objects.get(external_id="T0001")
    assert [line.line_no for line in basket.lines.all()] == [1, 2]


def test_admin_transaction_reimport_reports_every_row_skipped(staff_client, shop):
    preview_and_confirm(staff_client, shop, TRANSACTIONS)
    preview, done = preview_and_confirm(staff_client, shop, TRANSACTIONS)
    assert [r.import_type for r in preview.context["result"].valid_rows()] == ["skip"] * 5
    assert "Skipped" in preview.content.decode()
    assert [str(m) for m in get_messages(done.wsgi_request)][-1] == (
        "Import finished: 0 new, 0 updated and 5 skipped (unchanged or already stored) of 5 rows."
    )
    assert TransactionLine.objects.for_retailer(shop).count() == 5


def test_admin_transaction_import_lists_bad_rows_and_writes_nothing(staff_client, shop):
    data = TRANSACTIONS.replace(b"T0002,C0002,S002", b"T0002,C0404,S002", 1)
    response = staff_client.post(
        reverse("admin:customers_transaction_import"),
        {
            "retailer": shop.pk,
            "format": "0",
            "import_file": SimpleUploadedFile("t.csv", data, content_type="text/csv"),
        },
    )
    errors = [str(e) for e in response.context["result"].row_error_list()]
    # The bulk loader's messages: the admin imports through it.
    assert errors == [
        "row 4, column 'customer_id': unknown customer 'C0404' (not found for retailer 'acme')",
        "row 5, column 'customer_id': differs from row 4, the first row of transaction 'T0002': "
        "all rows of a transaction share its customer_id, store_id and timestamp",
    ]
    assert "confirm_form" not in response.context
    assert not Transaction.objects.exists()


def test_admin_transaction_export_writes_one_row_per_line(staff_client, shop):
    preview_and_confirm(staff_client, shop, TRANSACTIONS)
    response = staff_client.post(reverse("admin:customers_transaction_export"), {"format": "0"})
    assert response["Content-Disposition"] == 'attachment; filename="transactions.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == TRANSACTIONS.decode().splitlines()[0].split(",")
    assert len(rows) == 6
    assert rows[1][:5] == ["T0001", "C0001", "S001", "2024-06-01T10:15:00+03:00", "P1001"]
    assert rows[-1][-3:] == ["-1.000", "-1.89", "0.00"]


def test_admin_transaction_change_page_shows_lines_read_only(staff_client, retailer):
    line = TransactionLineFactory(transaction__retailer=retailer, product__sku="SKU-LINE")
    url = reverse("admin:customers_transaction_change", args=[line.transaction.pk])
    html = staff_client.get(url).content.decode()
    assert "SKU-LINE" in html
    assert 'name="lines-0-quantity"' not in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_a_role_user_sees_the_basket_lines_of_their_retailer_only(
    client, make_staff, retailer, other_retailer, role
):
    """The membership role decides, not Django's global model permissions (which role users
    lack): before, the lines inline was hidden from every staff user but superusers."""
    line = TransactionLineFactory(transaction__retailer=retailer, product__sku="SKU-LINE")
    other = TransactionLineFactory(transaction__retailer=other_retailer)
    client.force_login(make_staff(retailer, role))

    html = client.get(reverse("admin:customers_transaction_change", args=[line.transaction.pk]))

    assert "SKU-LINE" in html.content.decode()
    assert 'name="lines-0-quantity"' not in html.content.decode()
    url = reverse("admin:customers_transaction_change", args=[other.transaction.pk])
    assert client.get(url).status_code in (302, 404)  # not their retailer's basket


def test_admin_customer_import_confirms_into_the_chosen_retailer(staff_client, retailer):
    upload = SimpleUploadedFile("customers.csv", (SAMPLES / "customers.csv").read_bytes())
    preview = staff_client.post(
        reverse("admin:customers_customer_import"),
        {"retailer": retailer.pk, "format": "0", "import_file": upload},
    )
    form = preview.context["confirm_form"]
    names = ("import_file_name", "original_file_name", "format", "resource", "retailer")
    staff_client.post(
        reverse("admin:customers_customer_process_import"),
        {name: form.initial.get(name, "") for name in names},
    )
    assert sorted(
        Customer.objects.for_retailer(retailer).values_list("external_id", flat=True)
    ) == [
        "C0001",
        "C0002",
        "C0003",
    ]
