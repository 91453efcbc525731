"""Offer e-mails seen from outside the pipeline: the one-click unsubscribe, the retailer's
template (checked, sandboxed, escaped), the campaign page's block and the audience export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from campaigns.models import AuditEntry, CampaignState, Delivery, EmailTemplate
from campaigns.services.delivery import deliveries_send_due
from campaigns.services.email_messages import Letter
from customers.models import Customer
from customers.services.consent import unsubscribe_token
from customers.services.portal import portal_access_resolve, portal_link_revoke
from retailers.models import Role
from tests.campaigns.rewards_factories import CampaignFactory
from tests.campaigns.test_delivery import issued

pytestmark = pytest.mark.django_db


# --- Unsubscribe --------------------------------------------------------------------------------


def test_unsubscribe_get_changes_nothing_and_one_click_post_withdraws_consent(client, retailer):
    customer = Customer.objects.create(
        retailer=retailer, external_id="U1", enrolled_on="2024-01-01", marketing_consent=True
    )
    url = f"/unsubscribe/{unsubscribe_token(customer_id=customer.pk)}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"<form" in page.content
    customer.refresh_from_db()
    assert customer.marketing_consent  # link scanners open links; only POST counts

    # RFC 8058: the mail provider POSTs this body, without cookies or CSRF token.
    answer = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    customer.refresh_from_db()
    assert not customer.marketing_consent
    entry = AuditEntry.objects.get(action="marketing_consent_withdraw", object_id=customer.pk)
    assert (entry.from_state, entry.to_state) == ("consented", "withdrawn")
    assert entry.actor_label == "one-click unsubscribe (RFC 8058)"
    assert client.post(url).status_code == 200  # twice: still fine, audited once
    assert AuditEntry.objects.filter(action="marketing_consent_withdraw").count() == 1


def test_unsubscribe_with_a_forged_token_is_404(client, retailer):
    token = unsubscribe_token(customer_id=1)
    assert client.post(f"/unsubscribe/{token[:-2]}xx/").status_code == 404
    assert client.get("/unsubscribe/not-a-token/").status_code == 404


def test_unsubscribe_link_of_a_sent_message_stops_the_next_one(client, retailer):
    issued(retailer)
    deliveries_send_due()
    link = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://localhost:8000")
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert not Customer.objects.get(external_id="K0").marketing_consent


# --- Templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "source", "why"),
    [
        ("subject", "Hi {{ code|no_such_filter }}", "Template error"),
        ("html_body", "{% load static %}", "Template error"),
        ("text_body", "{% debug %}", "debug"),
        ("subject", "line one{% if code %}\nline two{% endif %}", "one line"),
    ],
)
def test_a_template_that_does_not_compile_is_refused_naming_its_field(retailer, field, source, why):
    template = EmailTemplate(retailer=retailer, **{field: source})
    with pytest.raises(ValidationError) as raised:
        template.full_clean()
    assert list(raised.value.message_dict) == [field]
    assert why in raised.value.message_dict[field][0]


def test_html_escapes_the_variables_and_the_text_does_not(retailer):
    retailer.name = "Tom & <Jerry>"
    template = EmailTemplate(
        retailer=retailer,
        subject="{{ retailer }}",
        text_body="{{ retailer }}",
        html_body="<b>{{ retailer }}</b>",
    )
    sample = Letter(retailer, template).sample()
    assert sample.html == "<b>Tom &amp; &lt;Jerry&gt;</b>"
    assert sample.subject == sample.text == "Tom & <Jerry>"


def test_the_retailers_own_template_is_used(retailer):
    EmailTemplate.objects.create(
        retailer=retailer, subject="{{ code }} for you", text_body="Code {{ code }}", html_body=""
    )
    issued(retailer)
    deliveries_send_due()
    code = Delivery.objects.get(customer__external_id="K0").bonus.code
    assert (mail.outbox[0].subject, mail.outbox[0].body) == (f"{code} for you", f"Code {code}")
    assert mail.outbox[0].attachments == []  # no QR where the HTML does not show it


# --- Campaign page and audience export ----------------------------------------------------------


def test_campaign_page_shows_delivery_counts_preview_and_export_link(client, retailer, make_staff):
    campaign = issued(retailer)
    deliveries_send_due()
    client.force_login(make_staff(retailer, Role.APPROVER))
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Offer e-mails" in page
    assert "<dt>Sent</dt><dd>1</dd>" in page
    assert "<dt>Not consented</dt><dd>1</dd>" in page
    assert "Preview of the e-mail" in page
    assert f"/campaigns/{campaign.pk}/audience.csv" in page


def test_proposal_page_shows_the_preview_before_approval(client, retailer, make_staff):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.PROPOSED)
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Preview of the e-mail" in page
    assert "audience.csv" not in page


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_audience_export_lists_every_recipient_formula_safe(client, retailer, make_staff):
    campaign = issued(retailer)
    Customer.objects.filter(external_id="K1").update(external_id="=HYPERLINK(1)")
    client.force_login(make_staff(retailer, Role.APPROVER))
    answer = client.get(f"/campaigns/{campaign.pk}/audience.csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = rows_of(answer.content.decode())
    assert [r["customer_id"] for r in rows] == ["K0", "'=HYPERLINK(1)", "K2"]
    assert [r["email"] for r in rows] == ["a@x.test", "", ""]  # only the consented address
    first = rows[0]
    delivery = Delivery.objects.select_related("bonus").get(customer__external_id="K0")
    assert first["bonus_code"] == delivery.bonus.code
    assert first["value"] == "1.00"
    token = first["portal_link"].rstrip("/").rsplit("/", 1)[1]
    assert portal_access_resolve(token=token).pk == delivery.portal_link_id
    assert AuditEntry.objects.get(action="audience_export").data == {"rows": 3}


def test_audience_export_leaves_out_a_revoked_link(retailer):
    campaign = issued(retailer)
    delivery = Delivery.objects.get(customer__external_id="K0")
    portal_link_revoke(access=delivery.portal_link)
    out = io.StringIO()
    call_command("export_campaign", campaign.pk, stdout=out, stderr=io.StringIO())
    assert rows_of(out.getvalue())[0]["portal_link"] == ""


def test_audience_export_refuses_a_proposal_before_writing_anything(
    client, retailer, tmp_path, make_staff
):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.PROPOSED)
    target = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="only an approved campaign"):
        call_command("export_campaign", campaign.pk, "--output", str(target))
    assert not target.exists()
    client.force_login(make_staff(retailer, Role.APPROVER))
    assert client.get(f"/campaigns/{campaign.pk}/audience.csv").status_code == 409


def test_audience_export_needs_an_approver(client, retailer, make_staff):
    campaign = issued(retailer)
    client.force_login(make_staff(retailer, Role.ANALYST))
    assert client.get(f"/campaigns/{campaign.pk}/audience.csv").status_code == 403
