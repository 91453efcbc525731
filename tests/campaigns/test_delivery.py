"""Offer e-mails: prepared at issuance, sent once on the send date to consenting customers only,
with a one-click unsubscribe (RFC 8058), retried on failure, and counted on the campaign page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import AuditEntry, Bonus, BonusState, CampaignState, Delivery, DeliveryState
from campaigns.selectors import campaign_delivery_counts
from campaigns.services.delivery import deliveries_send_due
from campaigns.services.issuance import campaign_bonuses_issue
from campaigns.tasks import deliveries_send_task
from customers.models import Customer, PointsEntry
from customers.services.consent import customer_consent_withdraw
from customers.services.portal import portal_access_resolve
from tests.campaigns.rewards_factories import TODAY, CampaignFactory, CampaignMemberFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def issued(retailer, consents=(True, False, True), emails=("a@x.test", "b@x.test", ""), **member):
    """An approved campaign issued to one customer per (consent, e-mail) pair."""
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.APPROVED)
    for n, (consent, email) in enumerate(zip(consents, emails, strict=True)):
        customer = CustomerFactory(
            retailer=retailer, external_id=f"K{n}", email=email, marketing_consent=consent
        )
        CampaignMemberFactory(campaign=campaign, customer=customer, **member)
    campaign_bonuses_issue(campaign_id=campaign.pk)
    return campaign


def by_customer(campaign) -> dict[str, str]:
    rows = Delivery.objects.filter(campaign=campaign).values_list("customer__external_id", "state")
    return dict(rows)


def test_issuance_prepares_one_delivery_and_one_portal_link_per_bonus(retailer):
    campaign = issued(retailer)
    assert by_customer(campaign) == {
        "K0": DeliveryState.PENDING,
        "K1": DeliveryState.NOT_CONSENTED,
        "K2": DeliveryState.NO_ADDRESS,
    }
    for delivery in Delivery.objects.filter(campaign=campaign).select_related("bonus"):
        assert delivery.send_on == delivery.bonus.valid_from
        assert delivery.portal_link is not None
        assert delivery.portal_link.customer_id == delivery.customer_id
        assert delivery.portal_link.expires_at > timezone.now()
    campaign_bonuses_issue(campaign_id=campaign.pk)  # again: nothing twice
    assert Delivery.objects.filter(campaign=campaign).count() == 3
    assert Customer.objects.get(external_id="K0").portal_links.count() == 1


def test_send_emails_only_the_consenting_customer_with_the_documented_content(retailer):
    campaign = issued(retailer)
    customer = Customer.objects.get(external_id="K0")
    PointsEntry.objects.create(
        retailer=retailer, customer=customer, seq=1, kind="adjustment", points=70, balance_after=70
    )
    assert deliveries_send_task() == {DeliveryState.SENT: 1}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    bonus = Bonus.objects.get(customer=customer)
    assert message.to == ["a@x.test"]
    assert (
        message.subject
        == f"Your offer from Acme Foods: {bonus.bonus_type.name or bonus.bonus_type.code}"
    )
    assert f"Show code {bonus.code}" in message.body
    assert f"(1.00 {retailer.currency}) is waiting" in message.body
    assert "Your points balance: 70." in message.body
    assert message.extra_headers["Message-ID"] == f"<offer-bonus-{bonus.pk}@localhost>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://localhost:8000/unsubscribe/")
    assert unsubscribe in message.body
    html = message.alternatives[0][0]
    assert f'href="{unsubscribe}"' in html
    assert 'src="cid:bonus-qr"' in html
    assert [a.get("Content-ID") for a in message.attachments] == ["<bonus-qr>"]
    raw = message.message()
    assert raw.get_content_type() == "multipart/related"  # the HTML shows the attached QR
    assert raw["Message-ID"] == f"<offer-bonus-{bonus.pk}@localhost>"
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    portal = message.body.split("Your rewards page: ")[1].split()[0]
    token = portal.rstrip("/").rsplit("/", 1)[1]
    assert portal_access_resolve(token=token).customer == customer
    assert campaign_delivery_counts(campaign=campaign) == {
        "pending": 0,
        "sending": 0,
        "sent": 1,
        "failed": 0,
        "not_consented": 1,
        "no_address": 1,
        "outdated": 0,
    }


def test_send_twice_sends_nothing_twice(retailer):
    issued(retailer)
    deliveries_send_due()
    assert deliveries_send_due() == {}
    assert len(mail.outbox) == 1


def test_send_waits_for_the_send_date_in_the_retailers_time_zone(retailer):
    later = TODAY + dt.timedelta(days=3)
    campaign = issued(retailer, send_on=later, expires_on=later + dt.timedelta(days=6))
    assert deliveries_send_due() == {}
    tz = retailer.tz
    just_before = dt.datetime.combine(later, dt.time(0, 0), tzinfo=tz) - dt.timedelta(minutes=1)
    assert deliveries_send_due(now=just_before) == {}
    on_the_day = dt.datetime.combine(later, dt.time(0, 1), tzinfo=tz)
    assert deliveries_send_due(now=on_the_day) == {DeliveryState.SENT: 1}
    assert by_customer(campaign)["K0"] == DeliveryState.SENT


def test_an_offer_for_a_used_bonus_is_never_sent(retailer):
    campaign = issued(retailer, consents=(True, True), emails=("a@x.test", "b@x.test"))
    Bonus.objects.filter(campaign=campaign, customer__external_id="K1").update(
        state=BonusState.REDEEMED
    )
    assert deliveries_send_due() == {DeliveryState.SENT: 1}
    assert [message.to for message in mail.outbox] == [["a@x.test"]]
    assert by_customer(campaign) == {"K0": DeliveryState.SENT, "K1": DeliveryState.OUTDATED}


def test_an_offer_past_its_bonus_validity_is_never_sent(retailer):
    campaign = issued(retailer, consents=(True,), emails=("a@x.test",))
    bonus = Bonus.objects.get(campaign=campaign)
    the_day_after = dt.datetime.combine(
        bonus.valid_to + dt.timedelta(days=1), dt.time(0, 1), tzinfo=retailer.tz
    )
    assert deliveries_send_due(now=the_day_after) == {}
    assert mail.outbox == []
    assert by_customer(campaign) == {"K0": DeliveryState.OUTDATED}
    assert campaign_delivery_counts(campaign=campaign)[DeliveryState.OUTDATED] == 1


def test_consent_withdrawn_after_issuance_stops_the_message(retailer):
    campaign = issued(retailer)
    customer_consent_withdraw(customer_id=Customer.objects.get(external_id="K0").pk, source="test")
    assert deliveries_send_due() == {DeliveryState.NOT_CONSENTED: 1}
    assert mail.outbox == []
    assert by_customer(campaign)["K0"] == DeliveryState.NOT_CONSENTED


def test_rate_per_retailer_sends_one_batch_per_run(retailer):
    from campaigns.models import EmailTemplate

    EmailTemplate.objects.create(retailer=retailer, per_minute=2)
    campaign = issued(retailer, consents=(True,) * 5, emails=[f"{n}@x.test" for n in range(5)])
    assert deliveries_send_due() == {DeliveryState.SENT: 2}
    assert deliveries_send_due() == {DeliveryState.SENT: 2}
    assert deliveries_send_due() == {DeliveryState.SENT: 1}
    assert set(by_customer(campaign).values()) == {DeliveryState.SENT}


class Refused(Exception):
    pass


def test_a_failed_send_is_retried_with_backoff_then_failed_for_good(
    retailer, monkeypatch, settings
):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    campaign = issued(retailer)

    def refuse(self, *args, **kwargs):
        raise Refused("mailbox unavailable")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    now = timezone.now()
    assert deliveries_send_due(now=now) == {DeliveryState.PENDING: 1}
    row = Delivery.objects.get(campaign=campaign, customer__external_id="K0")
    assert (row.attempts, row.last_error) == (1, "Refused: mailbox unavailable")
    assert row.next_attempt_at == now + dt.timedelta(minutes=2)
    assert deliveries_send_due(now=now + dt.timedelta(minutes=1)) == {}  # not yet
    assert deliveries_send_due(now=now + dt.timedelta(minutes=3)) == {DeliveryState.FAILED: 1}
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 2)
    assert deliveries_send_due(now=now + dt.timedelta(days=1)) == {}
    assert campaign_delivery_counts(campaign=campaign)["failed"] == 1


def test_cancelled_points_bonus_gets_no_message(retailer):
    from tests.campaigns.factories import BonusTypeFactory

    points = BonusTypeFactory(retailer=retailer, kind="points", face_value=Decimal("999999"))
    campaign = issued(retailer, consents=(True,), emails=("a@x.test",), bonus_type=points)
    assert Bonus.objects.get(campaign=campaign).state == "cancelled"  # over the spend limit
    assert not Delivery.objects.filter(campaign=campaign).exists()


def test_issuance_audits_the_portal_links(retailer):
    campaign = issued(retailer)
    entry = AuditEntry.objects.get(action="portal_links_issue", object_id=campaign.pk)
    assert entry.data == {"bonuses": 3, "portal_links": 3}


def test_setup_schedules_sends_offers_every_minute():
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="offers: send due offer e-mails")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "campaigns.tasks.deliveries_send_task",
        Schedule.MINUTES,
        1,
    )


def test_send_offers_command_prints_what_it_sent(retailer):
    import io

    from django.core.management import call_command

    issued(retailer)
    out = io.StringIO()
    call_command("send_offers", stdout=out)
    assert out.getvalue().strip() == "offer e-mails: 1 sent"
    call_command("send_offers", stdout=out)
    assert out.getvalue().strip().endswith("offer e-mails: none due")
