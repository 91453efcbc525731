"""The admin import flow (upload, preview, confirm), its rejections, and the background path."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from retailers.models import ImportJob, InventoryLevel, Product, RunStatus, Store
from tests.retailers.factories import ProductFactory, StoreFactory
from tests.retailers.test_resources import SAMPLES, csv_bytes, grant_import_permissions

pytestmark = pytest.mark.django_db

PRODUCTS = (SAMPLES / "products.csv").read_bytes()
IMPORT_URL = reverse("admin:retailers_product_import")
CONFIRM_URL = reverse("admin:retailers_product_process_import")


@pytest.fixture
def staff_client(client, staff_user):
    grant_import_permissions(staff_user)
    client.force_login(staff_user)
    return client


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(client, url, retailer, data: bytes, name: str = "file.csv"):
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(url, {"retailer": retailer.pk, "format": "0", "import_file": file})


def confirm_data(response) -> dict:
    form = response.context["confirm_form"]
    names = ("import_file_name", "original_file_name", "format", "resource", "retailer")
    return {name: form.initial.get(name, "") for name in names}


def test_admin_product_import_previews_then_imports_on_confirm(staff_client, retailer):
    page = staff_client.get(IMPORT_URL)
    assert page.status_code == 200
    assert page.context["form"].fields["retailer"].initial == retailer.pk

    preview = upload(staff_client, IMPORT_URL, retailer, PRODUCTS, "products.csv")
    assert preview.status_code == 200
    result = preview.context["result"]
    assert [row.import_type for row in result.valid_rows()] == ["new"] * 4
    assert "Confirm import" in preview.content.decode()
    assert not Product.objects.exists()  # the preview is a rolled-back dry run

    done = staff_client.post(CONFIRM_URL, confirm_data(preview))
    assert done.status_code == 302
    assert done.url == reverse("admin:retailers_product_changelist")
    assert Product.objects.for_retailer(retailer).count() == 4
    assert [str(m) for m in get_messages(done.wsgi_request)] == [
        "Import finished: 4 new, 0 updated and 0 skipped (unchanged or already stored) of 4 rows."
    ]


def test_admin_import_of_a_bad_file_lists_every_bad_row_and_offers_no_confirm(
    staff_client, retailer
):
    data = csv_bytes(
        "sku,name,category,brand,unit_cost,price",
        "P1,A,,,1.00,2.00",
        "P2,B,,,abc,2.00",
        "P3,C,,,1.00,",
    )
    response = upload(staff_client, IMPORT_URL, retailer, data)
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    errors = response.context["result"].row_error_list()
    assert [(e.row, e.column) for e in errors] == [(3, "unit_cost"), (4, "price")]
    page = response.content.decode()
    assert "nothing was imported" in page
    assert (
        "<td>3</td><td>unit_cost</td><td>expected a number such as 12.50, got &#x27;abc&#x27;</td>"
        in page
    )
    assert not Product.objects.exists()


def test_admin_import_reports_encoding_and_header_problems(staff_client, retailer):
    latin1 = "sku,name,category,brand,unit_cost,price\nP1,Jyväs,,,1,2\n".encode("latin-1")
    response = upload(staff_client, IMPORT_URL, retailer, latin1)
    assert response.context["form"].errors["import_file"] == [
        "row 2: the file is not UTF-8 text (byte 0xE4 on line 2): save it as CSV UTF-8"
    ]
    response = upload(staff_client, IMPORT_URL, retailer, csv_bytes("sku,name", "P1,A"))
    errors = response.context["result"].row_error_list()
    assert {(e.row, e.column) for e in errors} == {
        (1, "category"),
        (1, "brand"),
        (1, "unit_cost"),
        (1, "price"),
    }


def test_admin_confirm_rejects_a_file_that_became_invalid_after_the_preview(staff_client, retailer):
    ProductFactory(retailer=retailer, sku="P1")
    store = StoreFactory(retailer=retailer, external_id="S1")
    url = reverse("admin:retailers_inventorylevel_import")
    data = csv_bytes("sku,store_id,date,on_hand", "P1,,2024-06-01,5", "P1,S1,2024-06-01,2")
    preview = upload(staff_client, url, retailer, data)
    assert "confirm_form" in preview.context
    store.delete()
    response = staff_client.post(
        reverse("admin:retailers_inventorylevel_process_import"), confirm_data(preview)
    )
    assert response.status_code == 200
    assert [str(e) for e in response.context["result"].row_error_list()] == [
        "row 3, column 'store_id': unknown store_id 'S1'"
    ]
    assert not InventoryLevel.objects.exists()  # row 2 was valid but nothing is written


def test_admin_confirm_with_a_swapped_retailer_is_refused(staff_client, retailer, other_retailer):
    preview = upload(staff_client, IMPORT_URL, retailer, PRODUCTS)
    data = {**confirm_data(preview), "retailer": other_retailer.pk}
    response = staff_client.post(CONFIRM_URL, data)
    assert response.status_code == 200
    assert "retailer" in response.context["confirm_form"].errors
    assert not Product.objects.exists()


def test_admin_big_file_becomes_a_background_job_with_progress(
    staff_client, retailer, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_SYNC_MAX_ROWS = 3
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(staff_client, IMPORT_URL, retailer, PRODUCTS, "products.csv")
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:retailers_importjob_change", args=[job.pk])
    assert (job.retailer, job.kind, job.status) == (retailer, "products", RunStatus.SUCCEEDED)
    assert job.created_by.pk == response.wsgi_request.user.pk
    assert Product.objects.for_retailer(retailer).count() == 4
    page = staff_client.get(response.url).content.decode()
    assert '<progress value="100" max="100"></progress> 100%' in page
    listing = staff_client.get(reverse("admin:retailers_importjob_changelist")).content.decode()
    assert "products.csv" in listing


def test_admin_big_bad_file_ends_as_a_failed_job_listing_its_rows(
    staff_client, retailer, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_SYNC_MAX_ROWS = 1
    data = csv_bytes("store_id,name,region", "S1,A,N", ",B,N", "S3,C,N")
    url = reverse("admin:retailers_store_import")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(staff_client, url, retailer, data)
    job = ImportJob.objects.get()
    assert job.status == RunStatus.FAILED
    assert job.errors == [{"row": 3, "column": "store_id", "message": "a value is required"}]
    assert not Store.objects.exists()
    page = staff_client.get(response.url).content.decode()
    assert "<tr><td>3</td><td>store_id</td><td>a value is required</td></tr>" in page
    assert 'http-equiv="refresh"' not in page  # only while queued or running


def test_admin_big_file_with_a_bad_header_is_refused_before_queueing(
    staff_client, retailer, settings
):
    settings.IMPORT_SYNC_MAX_ROWS = 1
    response = upload(staff_client, IMPORT_URL, retailer, csv_bytes("sku,name", "P1,A", "P2,B"))
    assert response.status_code == 302
    assert response.url == IMPORT_URL
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert "row 1, column 'price': required column is missing" in messages
    assert not ImportJob.objects.exists()


def test_admin_import_job_pages_are_read_only(staff_client, retailer):
    job = ImportJob.objects.create(
        retailer=retailer, kind="products", file="imports/x.csv", status=RunStatus.RUNNING
    )
    ImportJob.objects.filter(pk=job.pk).update(total_rows=400, processed_rows=100)
    page = staff_client.get(reverse("admin:retailers_importjob_change", args=[job.pk]))
    html = page.content.decode()
    assert '<progress value="25" max="100"></progress> 25%' in html
    assert 'http-equiv="refresh"' in html
    assert 'name="_save"' not in html
    assert staff_client.get(reverse("admin:retailers_importjob_add")).status_code == 403


def test_admin_import_of_a_header_only_file_says_there_is_nothing_new(staff_client, retailer):
    answer = upload(
        staff_client, IMPORT_URL, retailer, b"sku,name,category,brand,unit_cost,price\n"
    )
    assert answer.status_code == 302
    assert answer.url == reverse("admin:retailers_product_changelist")
    assert [str(m) for m in get_messages(answer.wsgi_request)] == [
        "file.csv: the file has a header and no data rows: nothing new to import (0 rows imported)."
    ]
    # Its header is still checked: wrong columns are listed, back on the upload form.
    wrong = upload(staff_client, IMPORT_URL, retailer, b"sku,name,colour\n")
    assert wrong.url == IMPORT_URL
    assert "row 1, column 'unit_cost': required column is missing" in [
        str(m) for m in get_messages(wrong.wsgi_request)
    ]
