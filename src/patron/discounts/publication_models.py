"""Publishing a policy to the accounts it targets: one publication per policy version, one
recipient row per targeted account and address.

A publication keeps what was published (``snapshot``: name, text, dates, rules), so the
customer's page and the emails show what customers were told even after the policy moves on,
and the next publication can say what changed. A recipient row is the email's log and the
customer page's key: its status moves ``queued`` -> ``sent`` (or ``failed`` with the error
after its last attempt); an account without any address gets one ``no_address`` row, so the
accounts a publication reached are all on record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.core.outbox_models import OutboxBatch, OutboxRow

__all__ = ["PolicyPublication", "PublicationRecipient"]


class PolicyPublication(OutboxBatch):
    FIRST, CHANGE = "first", "change"
    KINDS = [
        (FIRST, _("First publication")),
        (CHANGE, pgettext_lazy("a publication that announces changes", "Changes")),
    ]

    policy = models.ForeignKey(
        "discounts.Policy", verbose_name=_("policy"), on_delete=models.CASCADE, related_name="publications"
    )
    version = models.PositiveIntegerField(_("version"))
    kind = models.CharField(_("kind"), max_length=10, choices=KINDS)
    previous = models.ForeignKey(
        "self", verbose_name=_("previous publication"), on_delete=models.SET_NULL, null=True, blank=True
    )
    # What customers are told: {"name", "customer_text", "effective_from", "effective_to", "rules": [...]}.
    snapshot = models.JSONField(_("what was published"))
    # Against the previous publication: {"added": [ids], "removed": [ids], "changed": [ids], "dates": bool, ...}.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    changes_from = models.DateTimeField(_("changes apply from"), null=True, blank=True)
    accounts_targeted = models.PositiveIntegerField(_("accounts targeted"), default=0)
    accounts_dropped = models.PositiveIntegerField(_("accounts no longer targeted"), default=0)
    accounts_unchanged = models.PositiveIntegerField(_("accounts not affected"), default=0)
    recipients_count = models.PositiveIntegerField(_("recipients"), default=0)
    without_address = models.PositiveIntegerField(_("accounts without an address"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("published by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("published"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy publication")
        verbose_name_plural = _("policy publications")
        ordering = ["policy", "-version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="publication_once_per_version")]
        indexes = [models.Index(fields=["status", "id"], name="publication_status_idx")]

    def __str__(self) -> str:
        return f"policy {self.policy_id} v{self.version}"


class PublicationRecipient(OutboxRow):
    publication = models.ForeignKey(
        PolicyPublication, verbose_name=_("publication"), on_delete=models.CASCADE, related_name="recipients"
    )
    token = models.CharField(max_length=64, unique=True, editable=False)
    # The policy's rules (ids) that concern this account now, and in the account's previous publication.
    rules = models.JSONField(default=list)
    previous_rules = models.JSONField(null=True, blank=True)
    viewed_at = models.DateTimeField(_("first viewed"), null=True, blank=True)

    class Meta:
        verbose_name = _("publication recipient")
        verbose_name_plural = _("publication recipients")
        ordering = ["publication", "id"]
        indexes = [
            # The sender's next rows; the list of failures.
            models.Index(fields=["publication", "status", "id"], name="pub_recipient_status_idx"),
            # The customer page: the account's latest row for the policy.
            models.Index(fields=["account", "publication"], name="pub_recipient_account_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="no_address", email="") | (~Q(status="no_address") & ~Q(email="")),
                name="pub_recipient_address_matches_status",
            )
        ]
