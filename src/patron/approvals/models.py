"""Approval requests and their append-only event log.

A request asks for a yes on exactly one set of ``terms`` (what the approver saw: lines,
prices, discount, margin), identified by ``terms_hash``; an approval never applies to
other terms. At most one request per subject is *live* (pending, or approved and not yet
replaced), which a partial unique constraint holds even against two submissions at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.domain.approvals import LIVE, Level, Status, Verb


class ApprovalRequest(models.Model):
    STATUSES = [
        (Status.PENDING.value, _("Pending")),
        (Status.APPROVED.value, _("Approved")),
        (Status.REJECTED.value, _("Rejected")),
        (Status.WITHDRAWN.value, _("Withdrawn")),
        (Status.SUPERSEDED.value, _("Superseded")),
    ]
    LEVELS = [
        (Level.MANAGER.value, _("Sales manager")),
        (Level.ADMIN.value, _("Admin")),
        (Level.FINANCE.value, _("Finance")),
    ]

    subject_type = models.CharField(_("subject type"), max_length=40)
    subject_id = models.BigIntegerField(pgettext_lazy("what an approval is about", "subject"))
    account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="approval_requests",
        db_constraint=False,
    )
    required_level = models.CharField(_("approved by"), max_length=10, choices=LEVELS, default=Level.MANAGER.value)
    status = models.CharField(_("status"), max_length=12, choices=STATUSES, default=Status.PENDING.value)
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True)
    terms = models.JSONField(_("terms"), default=dict, blank=True)
    terms_hash = models.CharField(_("terms fingerprint"), max_length=64)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    superseded_by = models.ForeignKey(
        "self",
        verbose_name=_("replaced by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "created_at"], name="approval_subject_idx"),
            models.Index(fields=["status", "created_at"], name="approval_status_idx"),
            models.Index(fields=["submitter", "created_at"], name="approval_submitter_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id"],
                condition=Q(status__in=sorted(s.value for s in LIVE)),
                name="approval_one_live_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject_type}:{self.subject_id} ({self.status})"

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def is_pending(self) -> bool:
        return self.status == Status.PENDING.value


class ApprovalEvent(models.Model):
    """What happened to a request, by whom and when; rows are only ever added."""

    SUBMIT = "submit"
    ACTIONS = [
        (SUBMIT, _("Submitted")),
        (Verb.APPROVE.value, _("Approved")),
        (Verb.REJECT.value, _("Rejected")),
        (Verb.WITHDRAW.value, _("Withdrawn")),
        (Verb.SUPERSEDE.value, _("Superseded")),
    ]

    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("action"), max_length=12, choices=ACTIONS)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(_("when"), auto_now_add=True)
    comment = models.TextField(_("comment"), blank=True)
    from_status = models.CharField(
        pgettext_lazy("status before", "from"), max_length=12, choices=ApprovalRequest.STATUSES, blank=True
    )
    to_status = models.CharField(pgettext_lazy("status after", "to"), max_length=12, choices=ApprovalRequest.STATUSES)

    class Meta:
        verbose_name = _("approval event")
        verbose_name_plural = _("approval events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} #{self.request_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("approval events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("approval events are append-only")
