"""Offer e-mails: each retailer's template, and one delivery row per issued bonus.

A :class:`Delivery` is created with its bonus at issuance and moves
``pending -> sending -> sent | failed`` (or ends ``not_consented`` / ``no_address`` without a
message). Its ``message_id`` is derived from the bonus, so a message sent twice after a worker
died between the send and the commit carries the same Message-ID (docs/delivery.md).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns.mail_templates import template_errors
from retailers.tenancy import RetailerOwned

DEFAULT_SUBJECT = "Your offer from {{ retailer }}: {{ bonus }}"
DEFAULT_TEXT = """Hello{% if first_name %} {{ first_name }}{% endif %},

{{ bonus }} ({{ value }}) is waiting for you.
Show code {{ code }} at the till, valid {{ valid_from }} to {{ valid_until }} ({{ time_zone }}).
Your points balance: {{ points_balance }}.
Your rewards page: {{ portal_url }}

Unsubscribe from these e-mails: {{ unsubscribe_url }}
"""
DEFAULT_HTML = """<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p>
<p><strong>{{ bonus }}</strong> ({{ value }}) is waiting for you.</p>
<p>Show code <strong>{{ code }}</strong> at the till, valid {{ valid_from }} to
{{ valid_until }} ({{ time_zone }}).</p>
<p><img src="{{ qr }}" alt="QR code of {{ code }}" width="164" height="164"></p>
<p>Your points balance: {{ points_balance }}.
<a href="{{ portal_url }}">Your rewards page</a></p>
<p><small><a href="{{ unsubscribe_url }}">Unsubscribe from these e-mails</a></small></p>
"""


class EmailTemplate(RetailerOwned):
    """A retailer's offer e-mail: subject, plain text and HTML, and its sending rate.

    The bodies are Django templates over a small documented context (docs/delivery.md), checked
    when saved; a retailer without one uses the defaults.
    """

    subject = models.CharField(max_length=200, default=DEFAULT_SUBJECT)
    text_body = models.TextField("plain-text body", default=DEFAULT_TEXT)
    html_body = models.TextField("HTML body", default=DEFAULT_HTML)
    from_email = models.EmailField(
        blank=True, help_text="Sender address; empty: the platform's DEFAULT_FROM_EMAIL."
    )
    per_minute = models.PositiveIntegerField(
        "messages per minute",
        default=600,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Sending rate: one batch of this size per minute.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["retailer"], name="email_template_one_per_retailer")
        ]

    def __str__(self) -> str:
        return f"e-mail template of retailer #{self.retailer_id}"

    def clean(self) -> None:
        """Refuse a template that does not compile, naming the field."""
        super().clean()
        errors = template_errors(
            {"subject": self.subject, "text_body": self.text_body, "html_body": self.html_body}
        )
        if errors:
            raise ValidationError(errors)


class DeliveryState(models.TextChoices):
    """pending -> sending -> sent | failed | outdated; not_consented and no_address are final,
    unsent; outdated: the bonus was used, cancelled or past its validity before its e-mail went
    out (an offer nobody can use is never sent)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    NOT_CONSENTED = "not_consented", "Not consented"
    NO_ADDRESS = "no_address", "No e-mail address"
    OUTDATED = "outdated", "Bonus no longer usable"


class Delivery(RetailerOwned):
    """The offer e-mail of one issued bonus: sent at most once per claim, on its send date."""

    bonus = models.OneToOneField(
        "campaigns.Bonus", on_delete=models.CASCADE, related_name="delivery"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="deliveries"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="deliveries"
    )
    portal_link = models.ForeignKey(
        "customers.PortalAccess",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The link created for this bonus at issuance.",
    )
    send_on = models.DateField(help_text="The bonus's send date (retailer's time).")
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Claims so far.")
    last_error = models.TextField(blank=True)
    claim = models.UUIDField(null=True, blank=True, help_text="The batch that holds it.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["retailer", "send_on"],
                condition=Q(state__in=["pending", "sending"]),
                name="delivery_due_idx",
            ),
            models.Index(fields=["campaign", "state"], name="delivery_campaign_state_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery of bonus #{self.bonus_id} ({self.state})"
