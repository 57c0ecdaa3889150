"""The fields ``patron.core.outbox`` needs of a batch of emails and of its rows, as abstract models."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxBatch(models.Model):
    SENDING, DONE = "sending", "done"
    STATUSES = [(SENDING, _("Sending")), (DONE, _("Done"))]

    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=SENDING)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    lease_owner = models.CharField(max_length=40, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class OutboxRow(models.Model):
    """One address: the email's log (``queued`` -> ``sent`` or ``failed``); ``no_address`` keeps on record
    an account that had nowhere to be written to."""

    QUEUED, SENT, FAILED, NO_ADDRESS = "queued", "sent", "failed", "no_address"
    STATUSES = [(QUEUED, _("Queued")), (SENT, _("Sent")), (FAILED, _("Failed")), (NO_ADDRESS, _("No address"))]

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    email = models.EmailField(_("email"), blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("error"), blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.email or self.account_id} ({self.status})"
