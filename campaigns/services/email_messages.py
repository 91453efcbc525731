"""Offer e-mails as messages: the documented variables of one recipient, rendered and wrapped.

A batch loads its recipients in one query (:func:`recipients_load`: bonus, type, customer,
points balance) and renders each with the retailer's compiled templates (:class:`Letter`). Each
message carries:

* ``Message-ID`` derived from the bonus (:func:`message_id_for`): the idempotency key of the
  send. A message sent again after a worker died between the send and the commit has the same
  one, so mail systems and the ESP can recognise the repeat (docs/delivery.md).
* ``List-Unsubscribe`` (the one-click URL) and ``List-Unsubscribe-Post:
  List-Unsubscribe=One-Click`` (RFC 8058), and the same link in the bodies.
* The bonus code as a QR code (segno, the portal's library), as an inline PNG the HTML shows
  with ``<img src="{{ qr }}">`` (``cid:bonus-qr``); attached only when the HTML uses it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from email.mime.image import MIMEImage
from typing import Any

import segno
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import OuterRef, QuerySet, Subquery

from campaigns.mail_templates import VARIABLES, compile_template, render
from campaigns.models import BonusKind, Delivery, EmailTemplate
from customers.models import PointsEntry
from customers.services.consent import unsubscribe_url
from customers.services.portal import portal_token_derive, portal_url
from retailers.models import Retailer

QR_CID = "bonus-qr"


def message_id_for(*, bonus_id: int) -> str:
    """The Message-ID of a bonus's offer e-mail: one per bonus, whoever sends it, however often."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<offer-bonus-{bonus_id}@{domain}>"


def portal_seed(*, retailer_id: int, code: str) -> str:
    """What a bonus's bulk-issued portal link token is derived from (unique per bonus)."""
    return f"bonus:{retailer_id}:{code}"


def _number(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_text(*, kind: str, value: Decimal, currency: str, product: str = "") -> str:
    """The bonus's value as the customer reads it, in the retailer's currency."""
    if kind == BonusKind.PERCENT_DISCOUNT:
        return f"{_number(value)} %"
    if kind == BonusKind.AMOUNT_DISCOUNT:
        return f"{value:.2f} {currency}"
    if kind == BonusKind.POINTS:
        return f"{int(value)} points"
    if kind == BonusKind.POINTS_MULTIPLIER:
        return f"x{_number(value)} points"
    if kind == BonusKind.FREE_PRODUCT:
        return f"free {product}".strip()
    if kind == BonusKind.PRODUCT_OFFER:
        return f"{_number(value)} % off {product}".strip()
    return _number(value)


def template_for(retailer_id: int) -> EmailTemplate:
    """The retailer's template, or the default one (unsaved) when it has none."""
    found = EmailTemplate.objects.filter(retailer_id=retailer_id).first()
    return found or EmailTemplate(retailer_id=retailer_id)


def recipients_load(deliveries: QuerySet[Delivery]) -> list[Delivery]:
    """The deliveries with everything their messages need, in one query (``balance`` added)."""
    balance = (
        PointsEntry.objects.filter(customer_id=OuterRef("customer_id"))
        .order_by("-seq")
        .values("balance_after")[:1]
    )
    return list(
        deliveries.select_related(
            "bonus__bonus_type__product", "bonus__product", "bonus__offer", "customer"
        ).annotate(balance=Subquery(balance))
    )


def variables_for(delivery: Delivery, retailer: Retailer) -> dict[str, Any]:
    """The documented variables (``campaigns.mail_templates.VARIABLES``) of one delivery."""
    bonus = delivery.bonus
    btype = bonus.bonus_type
    # A product offer names its own product; a free-product bonus its type's.
    product_row = bonus.product or btype.product
    product = product_row.name or product_row.sku if product_row is not None else ""
    seed = portal_seed(retailer_id=bonus.retailer_id, code=bonus.code)
    value = value_text(
        kind=btype.kind, value=bonus.value, currency=retailer.currency, product=product
    )
    title = btype.description or btype.name or btype.code
    if bonus.offer is not None:  # a personalised product offer: what and why, for this customer
        title = f"{value}: {bonus.offer.reason}" if bonus.offer.reason else value
    return {
        "first_name": "",  # the platform stores no names (docs/delivery.md)
        "retailer": retailer.name,
        "bonus": title,
        "value": value,
        "code": bonus.code,
        "qr": f"cid:{QR_CID}",
        "valid_from": bonus.valid_from.isoformat(),
        "valid_until": bonus.valid_to.isoformat(),
        "time_zone": retailer.time_zone,
        "currency": retailer.currency,
        "points_balance": str(getattr(delivery, "balance", None) or 0),
        "portal_url": portal_url(portal_token_derive(seed)) if delivery.portal_link_id else "",
        "unsubscribe_url": unsubscribe_url(customer_id=delivery.customer_id),
    }


def _qr_png(code: str) -> MIMEImage:
    buffer = io.BytesIO()
    # A fixed mask: choosing the best of eight was 2/3 of a message's CPU; any mask scans.
    qr = segno.make(code, error="m", micro=False, mask=0)
    qr.save(buffer, kind="png", scale=4, border=2)
    image = MIMEImage(buffer.getvalue(), "png")
    image.add_header("Content-ID", f"<{QR_CID}>")
    image.add_header("Content-Disposition", "inline", filename="bonus-qr.png")
    return image


class _RelatedMessage(EmailMultiAlternatives):
    """A message whose HTML shows its attached image (``multipart/related``)."""

    mixed_subtype = "related"


@dataclass(frozen=True)
class Rendered:
    """One rendered offer e-mail (what the preview shows)."""

    subject: str
    text: str
    html: str


class Letter:
    """A retailer's compiled templates and sender: renders and wraps its recipients' messages."""

    def __init__(self, retailer: Retailer, template: EmailTemplate | None = None) -> None:
        self.retailer = retailer
        self.template = template or template_for(retailer.pk)
        self.from_email = self.template.from_email or settings.DEFAULT_FROM_EMAIL
        self._subject = compile_template(self.template.subject, html=False)
        self._text = compile_template(self.template.text_body, html=False)
        self._html = compile_template(self.template.html_body, html=True)

    def render(self, variables: dict[str, Any]) -> Rendered:
        """The subject (one line) and both bodies over ``variables``."""
        subject = " ".join(render(self._subject, variables).split())
        return Rendered(subject, render(self._text, variables), render(self._html, variables))

    def sample(self) -> Rendered:
        """The message rendered over the documented sample values (no recipient)."""
        return self.render({**VARIABLES, "retailer": self.retailer.name})

    def message(self, delivery: Delivery, *, connection: Any = None) -> EmailMultiAlternatives:
        """The message of ``delivery`` (loaded by :func:`recipients_load`)."""
        variables = variables_for(delivery, self.retailer)
        rendered = self.render(variables)
        unsubscribe = variables["unsubscribe_url"]
        with_qr = f"cid:{QR_CID}" in rendered.html
        message = (_RelatedMessage if with_qr else EmailMultiAlternatives)(
            subject=rendered.subject,
            body=rendered.text,
            from_email=self.from_email,
            to=[delivery.customer.email],
            connection=connection,
            headers={
                "Message-ID": message_id_for(bonus_id=delivery.bonus_id),
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.attach_alternative(rendered.html, "text/html")
        if with_qr:
            message.attach(_qr_png(delivery.bonus.code))
        return message
