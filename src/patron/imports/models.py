"""An import: the file a user brought, how its columns map, what a dry run found, and what it wrote.

Every record an import creates or changes is listed (``ImportRecord``, with the values it
had before), so the import can be undone as a whole.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    ACCOUNTS, CONTACTS, PRODUCTS, ORDERS, RETURNS, PAYMENTS = (
        "accounts",
        "contacts",
        "products",
        "orders",
        "returns",
        "payments",
    )
    KINDS = [
        (ACCOUNTS, _("Accounts")),
        (CONTACTS, _("Contacts")),
        (PRODUCTS, _("Products")),
        (ORDERS, _("Orders with lines")),
        (RETURNS, _("Returns")),
        (PAYMENTS, _("Payments")),
    ]
    UPLOADED, CHECKING, CHECKED, RUNNING, DONE, FAILED, UNDONE = (
        "uploaded",
        "checking",
        "checked",
        "running",
        "done",
        "failed",
        "undone",
    )
    STATUSES = [
        (UPLOADED, _("Uploaded")),
        (CHECKING, _("Checking")),
        (CHECKED, _("Checked")),
        (RUNNING, _("Importing")),
        (DONE, _("Imported")),
        (FAILED, _("Failed")),
        (UNDONE, _("Undone")),
    ]

    kind = models.CharField(_("kind"), max_length=20, choices=KINDS)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=UPLOADED, db_index=True)
    file_name = models.CharField(_("file"), max_length=255)
    file_size = models.PositiveBigIntegerField(_("size"), default=0)
    # Where the uploaded bytes are kept (under the var directory), so a check and a run read the same file.
    stored_as = models.CharField(max_length=300, editable=False)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    headers = models.JSONField(_("headers"), default=list, blank=True)
    # Column index (as a string, JSON keys are text) -> field key.
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    warning_count = models.PositiveIntegerField(_("warnings"), default=0)
    # Problems as found: [{"row", "field", "column", "message", "level"}], the first REPORT_LIMIT of them.
    report = models.JSONField(_("report"), default=list, blank=True)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    checked_mapping = models.JSONField(default=dict, blank=True, editable=False)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="imports"
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True, db_index=True)
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    finished_at = models.DateTimeField(_("imported"), null=True, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.status})"

    @property
    def is_busy(self) -> bool:
        return self.status in (self.CHECKING, self.RUNNING)


class ImportRecord(models.Model):
    CREATED, UPDATED = "created", "updated"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="records")
    row = models.PositiveIntegerField()
    model = models.CharField(max_length=40)  # app_label.model_name
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=[(CREATED, CREATED), (UPDATED, UPDATED)])
    # The values the import replaced, to put back on undo.
    before = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "model", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.model} {self.object_id} (row {self.row})"
