"""Background imports: the ImportJob services and the django-q2 task."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from retailers.exceptions import ImportRejected
from retailers.models import ImportJob, Product, RunStatus
from retailers.services import JobProgress, import_job_create
from retailers.tasks import import_job_run_task
from tests.retailers.factories import ProductFactory, RetailerFactory
from tests.retailers.test_resources import SAMPLES, csv_bytes

PRODUCTS = (SAMPLES / "products.csv").read_bytes()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def queued_tasks(monkeypatch):
    """Calls of ``async_task`` by the services (recorded, not run)."""
    calls = []
    monkeypatch.setattr(
        "retailers.lifecycle.async_task", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls


def new_job(retailer, data: bytes = PRODUCTS, kind: str = "products", **kwargs) -> ImportJob:
    upload = SimpleUploadedFile(f"{kind}.csv", data)
    return import_job_create(retailer=retailer, kind=kind, upload=upload, **kwargs)


@pytest.mark.django_db
def test_import_job_create_saves_the_file_and_queues_the_task_on_commit(
    retailer, staff_user, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = new_job(retailer, created_by=staff_user)
    assert (job.status, job.total_rows, job.original_name) == (RunStatus.QUEUED, 4, "products.csv")
    assert Path(job.file.path).read_bytes() == PRODUCTS
    assert queued_tasks == [(("retailers.tasks.import_job_run_task", job.pk), {"cluster": "long"})]


@pytest.mark.django_db
def test_import_job_create_rejects_a_bad_header_at_once(retailer, queued_tasks):
    with pytest.raises(ImportRejected, match="row 1, column 'price': required column is missing"):
        new_job(retailer, csv_bytes("sku,name,category,brand,unit_cost", "P1,A,,,1"))
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_import_job_run_task_imports_the_file_and_records_the_outcome(retailer, queued_tasks):
    job = new_job(retailer)
    assert import_job_run_task(job.pk) == RunStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.summary == {"rows": 4, "new": 4, "updated": 0, "skipped": 0}
    assert (job.processed_rows, job.progress_percent, job.errors) == (4, 100, [])
    assert job.started_at <= job.finished_at
    assert Product.objects.for_retailer(retailer).count() == 4


@pytest.mark.django_db
def test_import_job_run_task_does_not_rerun_a_finished_or_running_job(retailer, queued_tasks):
    job = new_job(retailer)
    import_job_run_task(job.pk)
    Product.objects.filter(sku="P1001").update(price=Decimal("9.99"))
    assert import_job_run_task(job.pk) == RunStatus.SUCCEEDED
    assert Product.objects.get(sku="P1001").price == Decimal("9.99")

    running = new_job(retailer)
    ImportJob.objects.filter(pk=running.pk).update(status=RunStatus.RUNNING)
    assert import_job_run_task(running.pk) == RunStatus.RUNNING
    assert Product.objects.get(sku="P1001").price == Decimal("9.99")
    assert import_job_run_task(10**9) is None


@pytest.mark.django_db
def test_import_job_run_task_takes_over_a_job_whose_worker_died(retailer, queued_tasks):
    """Marked running for longer than the long queue's timeout: that worker is dead, and the
    re-delivered task imports the file (the dead attempt wrote nothing)."""
    from django.utils import timezone

    from loyalty_site.queues import queue_timeout

    job = new_job(retailer)
    recent = timezone.now() - dt.timedelta(seconds=60)
    ImportJob.objects.filter(pk=job.pk).update(status=RunStatus.RUNNING, started_at=recent)
    assert import_job_run_task(job.pk) == RunStatus.RUNNING  # may still be running: hands off
    assert not Product.objects.exists()

    dead = timezone.now() - dt.timedelta(seconds=queue_timeout("long") + 1)
    ImportJob.objects.filter(pk=job.pk).update(started_at=dead)
    assert import_job_run_task(job.pk) == RunStatus.SUCCEEDED
    assert Product.objects.for_retailer(retailer).count() == 4


@pytest.mark.django_db
def test_import_job_run_task_fails_a_rejected_file_and_writes_nothing(retailer, queued_tasks):
    bad = csv_bytes(
        "sku,name,category,brand,unit_cost,price", "P1,A,,,1.00,2.00", "P2,B,,,x,2.00", "P3,,,,,"
    )
    job = new_job(retailer, bad)
    assert import_job_run_task(job.pk) == RunStatus.FAILED
    job.refresh_from_db()
    assert job.errors == [
        {"row": 3, "column": "unit_cost", "message": "expected a number such as 12.50, got 'x'"},
        {"row": 4, "column": "unit_cost", "message": "a value is required"},
        {"row": 4, "column": "price", "message": "a value is required"},
    ]
    assert job.summary == {"errors": 3}
    assert job.finished_at is not None
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_import_job_run_task_records_an_unexpected_error(retailer, queued_tasks):
    job = new_job(retailer)
    Path(job.file.path).unlink()
    assert import_job_run_task(job.pk) == RunStatus.FAILED
    job.refresh_from_db()
    assert job.errors[0]["message"].startswith("import failed: ")


@pytest.mark.django_db
def test_import_job_run_task_hands_transactions_to_the_bulk_loader(retailer, queued_tasks):
    from tests.retailers.test_commands import bulk_loader

    bulk_loader()
    from tests.customers.factories import CustomerFactory
    from tests.retailers.factories import StoreFactory

    for sid in ("S001", "S002"):
        StoreFactory(retailer=retailer, external_id=sid)
    for sku in ("P1001", "P1002", "P1003", "P1004"):
        ProductFactory(retailer=retailer, sku=sku)
    for cid in ("C0001", "C0002"):
        CustomerFactory(retailer=retailer, external_id=cid)
    job = new_job(retailer, (SAMPLES / "transactions.csv").read_bytes(), kind="transactions")
    assert import_job_run_task(job.pk) == RunStatus.SUCCEEDED
    from customers.models import TransactionLine

    assert TransactionLine.objects.for_retailer(retailer).count() == 5


@transaction.atomic
def failing_import(progress: JobProgress) -> None:
    progress(500, 1000)
    raise RuntimeError("the import failed")


@pytest.mark.django_db(transaction=True)
def test_job_progress_is_recorded_while_the_import_transaction_is_open():
    retailer = RetailerFactory(slug="progress")
    job = ImportJob.objects.create(retailer=retailer, kind="products", file="x.csv")
    progress = JobProgress(job.pk)
    try:
        with transaction.atomic():
            ProductFactory(retailer=retailer)  # the import's open write transaction
            progress(250, 1000)
            progress(260, 1000)  # below the next step: not written
            assert ImportJob.objects.get(pk=job.pk).processed_rows == 250
        with pytest.raises(RuntimeError):
            failing_import(progress)
    finally:
        progress.close()
    job.refresh_from_db()
    # Written through its own connection, so it survives the rollback.
    assert job.processed_rows == 500
    assert job.total_rows == 1000
