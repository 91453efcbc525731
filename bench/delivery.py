"""Offer e-mails: a 100,000-recipient campaign sent through Django's locmem backend.

    .venv/bin/python bench/delivery.py [--recipients 100000] [--batch 5000] [--keep]

``DATABASE_URL`` defaults to ``postgres://postgres@127.0.0.1:5432/loyalty_bench_mail`` (created
if missing, then migrated). The retailer ``bench-mail`` is recreated with N consenting customers
and an approved campaign giving each an amount-discount bonus, then:

1. issuance (``campaign_bonuses_issue``): bonuses, portal links and delivery rows;
2. baseline A, Django's ``send_mass_mail`` of N plain-text messages (the backend's floor);
3. baseline B, the same messages as the pipeline's (templates, QR, headers) built from the
   same rows and handed to the backend in batches, without claims, locks or state;
4. the pipeline: ``deliveries_send_batch`` with ``--batch`` rows per claim until none are due
   (claim with SKIP LOCKED, one transaction per message, ``sent`` committed with the send), with
   ``DELIVERY_SYNCHRONOUS_COMMIT`` on and off (the rows are set back to pending in between).

Each phase prints wall seconds, messages/s, this process's CPU seconds (per message: the
figure that depends least on the shared machine's load) and the peak RSS it reached (the
kernel's mark is reset before each phase). The locmem outbox is emptied after every batch: it
would otherwise hold all N messages, which is the test backend's cost, not the pipeline's. The
load average is printed: the machine is shared, so compare the phases of one run, not runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_mail")
os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"

import django  # noqa: E402
import psycopg  # noqa: E402
from memory import peak_rss_gb, reset_peak  # noqa: E402  (bench/memory.py)


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


ensure_database(os.environ["DATABASE_URL"])
django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.core.mail import get_connection, send_mass_mail  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns.models import (  # noqa: E402
    BonusKind,
    BonusType,
    Campaign,
    CampaignMember,
    CampaignState,
    Delivery,
    DeliveryState,
)
from campaigns.services.delivery import deliveries_send_batch  # noqa: E402
from campaigns.services.email_messages import Letter, recipients_load  # noqa: E402
from campaigns.services.issuance import campaign_bonuses_issue  # noqa: E402
from customers.models import Customer  # noqa: E402
from loyalty_site.site.demo.purge import retailer_purge  # noqa: E402
from retailers.models import Retailer  # noqa: E402

SLUG = "bench-mail"


def phase(name: str, count: int, seconds: float, cpu: float) -> None:
    rate = count / seconds if seconds else float("inf")
    print(
        f"{name:<44} {count:>7} msgs {seconds:7.1f} s {rate:6.0f} msgs/s, "
        f"CPU {cpu:6.1f} s ({1000 * cpu / max(count, 1):4.1f} ms/msg), "
        f"peak RSS {peak_rss_gb() * 1024:5.0f} MB, load {os.getloadavg()[0]:.1f}"
    )


def setup(n: int) -> Campaign:
    """A fresh retailer with ``n`` consenting customers in one approved campaign."""
    old = Retailer.objects.filter(slug=SLUG).first()
    if old is not None:
        with transaction.atomic():  # foreign keys checked at commit, whatever the delete order
            retailer_purge(old)
    retailer = Retailer.objects.create(slug=SLUG, name="Bench Mail", time_zone="Europe/Helsinki")
    today = timezone.localdate(timezone=retailer.tz)
    btype = BonusType.objects.create(
        retailer=retailer,
        code="five-off",
        name="5 EUR off your next basket",
        kind=BonusKind.AMOUNT_DISCOUNT,
        face_value=Decimal("5.00"),
        is_active=True,
    )
    Customer.objects.bulk_create(
        [
            Customer(
                retailer=retailer,
                external_id=f"B{i:07d}",
                enrolled_on=dt.date(2024, 1, 1),
                email=f"b{i}@example.invalid",
                marketing_consent=True,
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    campaign = Campaign.objects.create(
        retailer=retailer,
        name="Bench campaign",
        week_start=today,
        week_end=today + dt.timedelta(days=6),
        state=CampaignState.APPROVED,
        budget=Decimal("1000000.00"),
        spend_limit=Decimal("1000000.00"),
    )
    ids = Customer.objects.filter(retailer=retailer).values_list("pk", flat=True)
    CampaignMember.objects.bulk_create(
        [
            CampaignMember(
                retailer=retailer,
                campaign=campaign,
                customer_id=pk,
                bonus_type=btype,
                send_on=today,
                expires_on=today + dt.timedelta(days=6),
            )
            for pk in ids.iterator(chunk_size=5000)
        ],
        batch_size=5000,
    )
    return campaign


def baseline_mass_mail(n: int, batch: int) -> int:
    sent = 0
    for start in range(0, n, batch):
        messages = [
            ("Your offer", f"Show code {i:016d} at the till.", "shop@example.invalid", [f"b{i}@x"])
            for i in range(start, min(n, start + batch))
        ]
        sent += send_mass_mail(messages)
        mail.outbox.clear()
    return sent


def baseline_build(campaign: Campaign, batch: int) -> int:
    letter = Letter(campaign.retailer)
    rows = Delivery.objects.filter(campaign=campaign).order_by("pk")
    last, sent = 0, 0
    with get_connection() as connection:
        while True:
            chunk = recipients_load(rows.filter(pk__gt=last)[:batch])
            if not chunk:
                return sent
            sent += connection.send_messages([letter.message(d) for d in chunk])
            last = chunk[-1].pk
            mail.outbox.clear()


def pipeline(campaign: Campaign, batch: int, synchronous_commit: str) -> int:
    """Send every delivery through the pipeline (all set back to pending first)."""
    settings.DELIVERY_SYNCHRONOUS_COMMIT = synchronous_commit
    Delivery.objects.filter(campaign=campaign).update(
        state=DeliveryState.PENDING, attempts=0, claim=None, sent_at=None
    )
    sent = 0
    while True:
        outcomes = deliveries_send_batch(retailer=campaign.retailer, size=batch)
        mail.outbox.clear()
        if not outcomes:
            return sent
        sent += outcomes.get("sent", 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the bench retailer")
    parser.add_argument(
        "--skip-baselines", action="store_true", help="only issuance and the pipeline"
    )
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off", "both"],
        default="both",
        help="DELIVERY_SYNCHRONOUS_COMMIT for the pipeline ('both': two runs, sent again)",
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    mail.outbox = []
    n = args.recipients
    print(f"{n} recipients, batches of {args.batch}, PostgreSQL, locmem backend")

    t = time.perf_counter()
    campaign = setup(n)
    print(f"set-up (customers, campaign members): {time.perf_counter() - t:.1f} s")

    reset_peak()
    t, c = time.perf_counter(), time.process_time()
    issued = campaign_bonuses_issue(campaign_id=campaign.pk)
    phase(
        "issuance (bonuses, portal links, deliveries)",
        issued,
        time.perf_counter() - t,
        time.process_time() - c,
    )

    phases = [
        ("baseline A: send_mass_mail, plain text", lambda: baseline_mass_mail(n, args.batch)),
        ("baseline B: same messages, no pipeline", lambda: baseline_build(campaign, args.batch)),
    ]
    if args.skip_baselines:
        phases = []
    modes = ["on", "off"] if args.synchronous_commit == "both" else [args.synchronous_commit]
    for mode in modes:
        phases.append(
            (
                f"pipeline, synchronous_commit {mode}",
                lambda m=mode: pipeline(campaign, args.batch, m),
            )
        )
    for name, run in phases:
        reset_peak()
        t, c = time.perf_counter(), time.process_time()
        count = run()
        phase(name, count, time.perf_counter() - t, time.process_time() - c)
    if not args.keep:
        with transaction.atomic():
            retailer_purge(campaign.retailer)


if __name__ == "__main__":
    main()
