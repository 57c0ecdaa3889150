"""Follow-ups: a planned contact with an account, its owner, when it is due, and what came of it.

A task is ``open`` until it is ``done`` (with an outcome) or ``cancelled``. A recurring task, once
done, opens its next occurrence (``previous`` points back, and is unique, so completing twice
never opens two). ``source_key`` names what made a task automatically (a cadence's rule for an
account, a survey answer); at most one *open* task per account has a given key, so a job that
runs twice never duplicates one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.core.outbox_models import OutboxBatch, OutboxRow


class Task(models.Model):
    CALL, EMAIL, SMS, WECHAT, VISIT, MEETING = "call", "email", "sms", "wechat", "visit", "meeting"
    KINDS = [
        (CALL, _("Call")),
        (EMAIL, _("Email")),
        (SMS, _("SMS")),
        (WECHAT, _("WeChat")),
        (VISIT, _("Visit")),
        (MEETING, _("Meeting")),
    ]
    OPEN, DONE, CANCELLED = "open", "done", "cancelled"
    STATUSES = [(OPEN, pgettext_lazy("follow-up task", "Open")), (DONE, _("Done")), (CANCELLED, _("Cancelled"))]
    OUTCOMES = [
        ("reached", _("Reached, talked")),
        ("no_answer", _("No answer")),
        ("left_message", _("Left a message")),
        ("order", _("Ordered")),
        ("quote", _("Asked for a quote")),
        ("not_interested", _("Not interested")),
        ("issue", _("Raised a problem")),
    ]
    UNITS = [("days", _("days")), ("weeks", _("weeks")), ("months", _("months"))]
    MANUAL, CADENCE, SURVEY, COMPLAINT, COLLECTION = "manual", "cadence", "survey", "complaint", "collection"
    SOURCES = [
        (MANUAL, _("By hand")),
        (CADENCE, _("Cadence")),
        (SURVEY, _("Survey")),
        (COMPLAINT, _("Complaint")),
        (COLLECTION, _("Collection")),
    ]

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="tasks"
    )
    contact = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("contact person"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
    )
    kind = models.CharField(_("how"), max_length=10, choices=KINDS, default=CALL)
    subject = models.CharField(_("subject"), max_length=200)
    due_at = models.DateTimeField(_("due"), db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="tasks"
    )
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OPEN)
    outcome = models.CharField(_("outcome"), max_length=20, choices=OUTCOMES, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    repeat_every = models.PositiveSmallIntegerField(_("repeat every"), null=True, blank=True)
    repeat_unit = models.CharField(_("unit"), max_length=8, choices=UNITS, blank=True)
    source = models.CharField(_("made by"), max_length=10, choices=SOURCES, default=MANUAL)
    source_key = models.CharField(max_length=80, blank=True, editable=False)
    previous = models.OneToOneField(
        "self", verbose_name=_("follows"), on_delete=models.SET_NULL, null=True, blank=True, related_name="next"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["owner", "status", "due_at"], name="task_owner_due_idx"),
            models.Index(fields=["account", "status"], name="task_account_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "source_key"],
                condition=Q(status="open") & ~Q(source_key=""),
                name="task_one_open_per_source",
            ),
            models.CheckConstraint(
                condition=Q(repeat_every__isnull=True, repeat_unit="")
                | Q(repeat_every__isnull=False, repeat_unit__in=["days", "weeks", "months"]),
                name="task_repeat_whole",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def recurring(self) -> bool:
        return self.repeat_every is not None


class Cadence(models.Model):
    """A manager's written rule for revisits: which accounts (``target``, as the discount rules' "who") and
    when (see ``patron.domain.followups.Cadence``); its tasks go to each account's owner on the account's
    preferred channel."""

    RULES = [
        ("every", _("Every N days since the last contact")),
        ("after_first_order", _("N days after the first order")),
        ("on_entering", _("Within N days of entering a segment")),
        ("before_birthday", _("N days before the birthday")),
    ]

    name = models.CharField(_("name"), max_length=200)
    rule = models.CharField(_("rule"), max_length=20, choices=RULES)
    days = models.JSONField(_("days"), default=list)  # [14] or [3, 30]
    classes = models.JSONField(_("segments entered"), default=list, blank=True)  # ["lifecycle:at_risk"]
    target = models.JSONField(_("accounts"), default=dict, blank=True)
    subject = models.CharField(_("task subject"), max_length=200)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_run_tasks = models.PositiveIntegerField(_("tasks made by the last run"), default=0)

    class Meta:
        verbose_name = _("cadence")
        verbose_name_plural = _("cadences")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ReminderRun(OutboxBatch):
    """One pass of the reminder job: an email per person with tasks coming due or overdue."""

    created_at = models.DateTimeField(_("run"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder run")
        verbose_name_plural = _("reminder runs")
        ordering = ["-created_at", "-id"]


class ReminderEmail(models.Model):
    """One person's reminder of a run (the fields ``patron.core.outbox`` sends by)."""

    QUEUED, SENT, FAILED = "queued", "sent", "failed"
    STATUSES = [(QUEUED, _("Queued")), (SENT, _("Sent")), (FAILED, _("Failed"))]

    run = models.ForeignKey(ReminderRun, on_delete=models.CASCADE, related_name="emails")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(_("email"))
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("reminder email")
        verbose_name_plural = _("reminder emails")
        indexes = [models.Index(fields=["run", "status", "id"], name="reminder_email_status_idx")]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class TaskReminder(models.Model):
    """A task was put in a reminder: before it falls due, and once when it is overdue; never twice."""

    DUE_SOON, OVERDUE = "due_soon", "overdue"
    KINDS = [(DUE_SOON, _("Coming due")), (OVERDUE, _("Overdue"))]

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=KINDS)
    email = models.ForeignKey(ReminderEmail, on_delete=models.CASCADE, related_name="tasks")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "kind"], name="task_reminded_once")]

    def __str__(self) -> str:
        return f"{self.task_id} {self.kind}"


class JobRun(models.Model):
    """One run of a scheduled job: when it started and ended, and whether it failed (the scheduler's health)."""

    name = models.CharField(_("job"), max_length=80)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    ok = models.BooleanField(_("succeeded"), null=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M}"


class JobAlert(models.Model):
    """An admin was told a job missed its time or failed: once per job and incident."""

    name = models.CharField(max_length=80)
    problem = models.CharField(max_length=10)  # missed | failed
    since = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "problem", "since"], name="job_alert_once")]

    def __str__(self) -> str:
        return f"{self.name} {self.problem}"


class Survey(models.Model):
    """A satisfaction survey: the NPS question, then ``questions`` (see ``patron.domain.surveys``)."""

    name = models.CharField(_("name"), max_length=200)
    intro = models.TextField(_("text for customers"), blank=True)
    questions = models.JSONField(_("questions"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class SurveySend(OutboxBatch):
    survey = models.ForeignKey(Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="sends")
    target = models.JSONField(_("target"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey mailing")
        verbose_name_plural = _("survey mailings")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.created_at:%Y-%m-%d}"


class SurveyRecipient(OutboxRow):
    """One address asked, with its own unguessable link; the answer is kept once."""

    send = models.ForeignKey(SurveySend, on_delete=models.CASCADE, related_name="recipients")
    token = models.CharField(max_length=64, unique=True, editable=False)
    nps = models.PositiveSmallIntegerField(_("likely to recommend (0-10)"), null=True, blank=True)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("survey recipient")
        verbose_name_plural = _("survey recipients")
        indexes = [models.Index(fields=["send", "status", "id"], name="survey_rcpt_status_idx")]


class Complaint(models.Model):
    """A customer's complaint, from any channel, with deadlines set by its severity (see
    ``patron.domain.followups.SLA_HOURS``); a deadline missed escalates it to the owner's manager, once."""

    CHANNELS = [
        ("phone", _("Phone")),
        ("email", _("Email")),
        ("wechat", _("WeChat")),
        ("visit", _("Visit")),
        ("web", _("Website")),
        ("other", _("Other")),
    ]
    CATEGORIES = [
        ("quality", _("Product quality")),
        ("delivery", _("Delivery")),
        ("billing", _("Billing and payment")),
        ("service", _("Service")),
        ("pricing", _("Prices and discounts")),
        ("other", _("Other")),
    ]
    SEVERITIES = [("low", _("Low")), ("normal", _("Normal")), ("high", _("High")), ("critical", _("Critical"))]
    OPEN, RESOLVED, CLOSED = "open", "resolved", "closed"
    STATUSES = [
        (OPEN, pgettext_lazy("complaint", "Open")),
        (RESOLVED, _("Resolved")),
        (CLOSED, _("Closed: confirmed by the customer")),
    ]

    number = models.CharField(_("number"), max_length=20, unique=True)
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="complaints"
    )
    contact = models.ForeignKey(
        "accounts.Contact", verbose_name=_("contact person"), on_delete=models.SET_NULL, null=True, blank=True
    )
    channel = models.CharField(_("received by"), max_length=10, choices=CHANNELS, default="phone")
    category = models.CharField(_("category"), max_length=10, choices=CATEGORIES)
    severity = models.CharField(_("severity"), max_length=10, choices=SEVERITIES, default="normal")
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("what the customer said"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="complaints"
    )
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OPEN, db_index=True)
    opened_at = models.DateTimeField(_("opened"))
    respond_by = models.DateTimeField(_("respond by"))
    resolve_by = models.DateTimeField(_("resolve by"))
    responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    confirmed_at = models.DateTimeField(_("confirmed by the customer"), null=True, blank=True)
    reopened = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    escalated_response_at = models.DateTimeField(_("escalated: no response"), null=True, blank=True)
    escalated_resolution_at = models.DateTimeField(_("escalated: not resolved"), null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("escalated to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "resolve_by"], name="complaint_due_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"
