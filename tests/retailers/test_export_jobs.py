"""Large admin exports: a background ExportJob (streamed, formula-safe, the synchronous Export's
bytes), its page and download (staff of its retailer only), and the daily expiry."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models.signals import post_init
from django.urls import reverse
from django_q.models import Schedule

from customers.models import TransactionLine
from retailers.export_jobs import export_csv_write, export_jobs_expire
from retailers.import_kinds import resource_class_for
from retailers.models import ExportJob, Role, RunStatus
from retailers.tasks import export_job_run_task
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.retailers.factories import StoreFactory, UserFactory
from tests.retailers.test_resources import grant_import_permissions

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:customers_transaction_export")
NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def login(client):
    def log_in(user):
        grant_import_permissions(user)
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def lines(retailer):
    store = StoreFactory(retailer=retailer, external_id="S-A")
    other_store = StoreFactory(retailer=retailer, external_id="S-B")
    made = [TransactionLineFactory(transaction__retailer=retailer) for _ in range(3)]
    made += [
        TransactionLineFactory(transaction=TransactionFactory(retailer=retailer, store=store))
        for _ in range(3)
    ]
    TransactionLineFactory(transaction=TransactionFactory(retailer=retailer, store=other_store))
    return made


def export(client, url=EXPORT_URL, capture=None):
    with capture(execute=True):
        return client.post(url, {"format": "0"})


def download(client, job):
    return client.get(reverse("admin:retailers_exportjob_download", args=[job.pk]))


def test_admin_big_export_becomes_a_job_whose_file_is_the_synchronous_exports_bytes(
    login, staff_user, lines, settings, django_capture_on_commit_callbacks
):
    client = login(staff_user)
    settings.EXPORT_SYNC_MAX_ROWS = 100
    in_request = client.post(EXPORT_URL, {"format": "0"})
    assert in_request.status_code == 200  # small enough: answered in the request, as before
    assert not ExportJob.objects.exists()

    settings.EXPORT_SYNC_MAX_ROWS = 5
    response = export(client, capture=django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:retailers_exportjob_change", args=[job.pk])
    assert (job.kind, job.status, job.total_rows) == ("transactions", RunStatus.SUCCEEDED, 7)
    assert Path(job.file.path).is_relative_to(settings.MEDIA_ROOT)
    page = client.get(response.url).content.decode()
    assert '<progress value="100" max="100"></progress> 100%' in page
    assert "Download transactions.csv</a> (7 rows)" in page

    file = download(client, job)
    assert file.status_code == 200
    assert file["Content-Disposition"] == 'attachment; filename="transactions.csv"'
    assert b"".join(file.streaming_content) == in_request.content


def test_admin_big_export_keeps_the_list_filters(
    login, staff_user, retailer, lines, settings, django_capture_on_commit_callbacks
):
    client = login(staff_user)
    settings.EXPORT_SYNC_MAX_ROWS = 2
    store = lines[-1].transaction.store
    export(client, f"{EXPORT_URL}?store__id__exact={store.pk}", django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    rows = list(csv.reader(io.StringIO(job.file.read().decode())))
    assert [row[2] for row in rows[1:]] == ["S-A"] * 3


def test_background_export_neutralises_formulas(
    login, staff_user, retailer, settings, django_capture_on_commit_callbacks
):
    CustomerFactory(retailer=retailer, external_id='=HYPERLINK("http://x")')
    CustomerFactory(retailer=retailer, external_id="@SUM(A1)")
    settings.EXPORT_SYNC_MAX_ROWS = 1
    client = login(staff_user)
    export(client, reverse("admin:customers_customer_export"), django_capture_on_commit_callbacks)
    text = ExportJob.objects.get().file.read().decode()
    assert "'=HYPERLINK" in text
    assert "'@SUM(A1)" in text
    assert "\n=" not in text
    assert "\n@" not in text


def test_export_rows_are_written_as_they_are_read_not_after_the_whole_table(
    retailer, lines, monkeypatch
):
    monkeypatch.setattr("retailers.export_jobs.EXPORT_CHUNK_ROWS", 2)
    loaded: list[int] = []

    def count(sender, instance, **kwargs):
        loaded.append(1)

    class Recorder(io.StringIO):
        """Notes how many lines had been loaded when each CSV row was written."""

        seen: list[int] = []

        def write(self, text):
            self.seen.append(len(loaded))
            return super().write(text)

    post_init.connect(count, sender=TransactionLine)
    try:
        stream = Recorder()
        rows = export_csv_write(
            resource=resource_class_for("transactions")(retailer=retailer),
            queryset=TransactionLine.objects.for_retailer(retailer).order_by("pk"),
            stream=stream,
        )
    finally:
        post_init.disconnect(count, sender=TransactionLine)
    assert rows == 7
    assert Recorder.seen[1] <= 2  # the first data row went out after one chunk of two
    assert Recorder.seen[-1] == 7


def test_export_download_is_for_staff_of_the_jobs_retailer_only(
    client, login, staff_user, other_retailer, make_staff, lines, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.EXPORT_SYNC_MAX_ROWS = 1
    export(login(staff_user), capture=django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert download(client, job).status_code == 200

    viewer = make_staff(job.retailer, Role.VIEWER)
    assert download(login(viewer), job).status_code == 200
    outsider = make_staff(other_retailer, Role.ADMIN)
    assert download(login(outsider), job).status_code == 404
    page = client.get(reverse("admin:retailers_exportjob_change", args=[job.pk]))
    assert page.status_code == 302  # another retailer's job is not shown either
    assert download(login(UserFactory(is_staff=True)), job).status_code == 404  # no membership
    client.logout()
    anonymous = download(client, job)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("admin:login"))


def test_export_download_is_404_until_ready_and_after_expiry(client, login, staff_user, retailer):
    job = ExportJob.objects.create(retailer=retailer, kind="transactions", options={})
    client = login(staff_user)
    assert download(client, job).status_code == 404  # queued
    ExportJob.objects.filter(pk=job.pk).update(
        status=RunStatus.SUCCEEDED,
        file="exports/x.csv",
        expires_at=dt.datetime(2001, 1, 1, tzinfo=dt.UTC),
    )
    assert download(client, job).status_code == 404  # expired
    page = client.get(reverse("admin:retailers_exportjob_change", args=[job.pk])).content.decode()
    assert "expired" in page


def test_export_jobs_expire_deletes_old_files_and_keeps_the_records(retailer, settings):
    def finished(name: str, expires_at: dt.datetime) -> ExportJob:
        path = Path(settings.MEDIA_ROOT) / "exports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sku\n")
        return ExportJob.objects.create(
            retailer=retailer,
            kind="products",
            status=RunStatus.SUCCEEDED,
            file=f"exports/{name}",
            expires_at=expires_at,
        )

    old = finished("old.csv", NOW - dt.timedelta(minutes=1))
    fresh = finished("fresh.csv", NOW + dt.timedelta(days=1))
    assert export_jobs_expire(now=NOW) == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert not old.file
    assert not (Path(settings.MEDIA_ROOT) / "exports" / "old.csv").exists()
    assert fresh.file.name == "exports/fresh.csv"
    assert (Path(settings.MEDIA_ROOT) / "exports" / "fresh.csv").exists()
    assert export_jobs_expire(now=NOW) == 0


def test_export_job_task_is_safe_to_deliver_twice(
    login, staff_user, lines, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    export(login(staff_user), capture=django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert export_job_run_task(job.pk) == RunStatus.SUCCEEDED
    job_again = ExportJob.objects.get()
    assert (job_again.file.name, job_again.finished_at) == (job.file.name, job.finished_at)
    assert len(list(Path(job.file.path).parent.iterdir())) == 1
    assert export_job_run_task(10**9) is None


def test_superuser_export_over_two_retailers_makes_one_job_per_retailer(
    client, retailer, other_retailer, settings, django_capture_on_commit_callbacks
):
    for owner in (retailer, other_retailer):
        for _ in range(2):
            TransactionLineFactory(transaction__retailer=owner)
    settings.EXPORT_SYNC_MAX_ROWS = 3
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = export(client, capture=django_capture_on_commit_callbacks)
    assert response.url == reverse("admin:retailers_exportjob_changelist")
    jobs = {job.retailer: job for job in ExportJob.objects.all()}
    assert set(jobs) == {retailer, other_retailer}
    for owner, job in jobs.items():
        stored = set(
            TransactionLine.objects.for_retailer(owner).values_list(
                "transaction__external_id", flat=True
            )
        )
        rows = list(csv.reader(io.StringIO(job.file.read().decode())))[1:]
        assert {row[0] for row in rows} == stored


def test_setup_schedules_adds_the_daily_export_expiry():
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="exports: delete expired export files")
    assert (schedule.func, schedule.schedule_type) == (
        "retailers.tasks.export_jobs_expire_task",
        Schedule.DAILY,
    )
