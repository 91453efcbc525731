"""The audit log: who changed the state of what, when, and why."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from customers.audit import AuditAction
from retailers.tenancy import RetailerOwned


class AuditEntry(RetailerOwned):
    """One state change of an audited object (campaign, promotion proposal, run, bonus, ...).

    Append-only: entries are written by the services that change state and never edited.
    ``actor_label`` names non-user actors (an API token, a scheduled task).
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="audit_entry_target_idx"),
            models.Index(fields=["retailer", "-created_at"], name="audit_entry_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.content_type.model} #{self.object_id}"
