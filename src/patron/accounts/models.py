"""Accounts (customers), their contacts, regions, industries, custom fields and timeline."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.core.trees import TreePathMixin


class BilingualName(models.Model):
    """Reference data shown in the reader's language."""

    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        lang = translation.get_language() or "zh-hans"
        if lang.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh


class Region(TreePathMixin, BilingualName):
    """A node of the region tree: country > province > city."""

    LEVELS = [("country", _("Country")), ("province", _("Province")), ("city", _("City"))]
    code = models.CharField(_("code"), max_length=20, unique=True)
    level = models.CharField(_("level"), max_length=10, choices=LEVELS)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    # Materialised path of codes ("CN/GD/SZ/") so "everything below" is one prefix query.
    path = models.CharField(max_length=200, db_index=True, editable=False)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["path"]

    def full_name(self) -> str:
        return " / ".join([a.name for a in reversed(self.ancestors())] + [self.name])


class Industry(BilingualName):
    code = models.CharField(_("code"), max_length=20, unique=True)

    class Meta:
        verbose_name = _("industry")
        verbose_name_plural = _("industries")
        ordering = ["code"]


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """A trait an admin adds to every account (value positioning, purchasing standard, ...)."""

    KINDS = [
        ("text", _("Text")),
        ("number", pgettext_lazy("custom field kind", "Number")),
        ("choice", _("Choice")),
        ("date", _("Date")),
    ]
    key = models.SlugField(_("key"), max_length=40, unique=True)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=KINDS)
    choices = models.JSONField(_("choices"), default=list, blank=True, help_text=_("Allowed values, for choice fields"))
    required = models.BooleanField(_("required"), default=False)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        lang = translation.get_language() or "zh-hans"
        return self.label_en if lang.startswith("en") and self.label_en else self.label_zh


class Account(models.Model):
    KIND_COMPANY = "company"
    KIND_PERSON = "person"
    KINDS = [(KIND_COMPANY, _("Company")), (KIND_PERSON, _("Person"))]
    CHANNELS = [
        ("phone", _("Phone")),
        ("email", _("Email")),
        ("sms", _("SMS")),
        ("wechat", _("WeChat")),
        ("visit", _("Visit")),
    ]

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=KINDS, default=KIND_COMPANY)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    industry = models.ForeignKey(
        Industry, verbose_name=_("industry"), on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
    )
    is_key_account = models.BooleanField(_("key account"), default=False)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="accounts")
    payment_terms_days = models.PositiveIntegerField(
        _("payment terms (days)"), default=30, validators=[MaxValueValidator(3650)]
    )
    credit_limit = models.DecimalField(
        _("credit limit"), max_digits=18, decimal_places=2, default=0, help_text=_("In the company currency")
    )
    preferred_channel = models.CharField(_("preferred channel"), max_length=10, choices=CHANNELS, default="phone")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=20, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    notes = models.TextField(_("private notes"), blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_order_date = models.DateField(_("first order"), null=True, blank=True, db_index=True)
    last_order_date = models.DateField(_("last order"), null=True, blank=True, db_index=True)
    # A duplicate merged into another account keeps its row (its code still leads somewhere)
    # but nothing else: lists hide it and its page sends readers to the account it joined.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_accounts",
        db_index=False,  # see the partial index below
    )
    merged_at = models.DateTimeField(_("merged"), null=True, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["code"]
        indexes = [
            # A salesperson's own list, in the orders the list offers.
            models.Index(fields=["owner", "code"]),
            models.Index(fields=["owner", "name", "id"]),
            models.Index(fields=["owner", "created_at", "id"]),
            models.Index(fields=["region", "id"]),
            models.Index(fields=["industry", "id"]),
            models.Index(fields=["name", "id"]),
            models.Index(fields=["created_at", "id"]),
            # Only merged accounts are indexed: an index holding every NULL would tempt SQLite to
            # read the list through it ("merged_into IS NULL") instead of through the sort's index.
            models.Index(
                fields=["merged_into"], condition=Q(merged_into__isnull=False), name="account_merged_into_idx"
            ),
            # Finding the accounts changed since duplicates were last looked for.
            models.Index(fields=["updated_at"], name="account_updated_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="account_credit_limit_not_negative"),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | ~Q(merged_into=models.F("id")),
                name="account_not_merged_into_itself",
            ),
            models.CheckConstraint(
                condition=Q(birthday__isnull=True) | Q(kind="person"), name="account_birthday_only_for_persons"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Contact(models.Model):
    ROLES = [
        ("decider", _("Decider")),
        ("influencer", _("Influencer")),
        ("buyer", _("Buyer")),
        ("user", _("User")),
        ("finance", _("Finance")),
        ("other", _("Other")),
    ]
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=20, choices=ROLES, default="other")
    title = models.CharField(_("title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    email_consent = models.BooleanField(_("consents to email"), default=False)
    email_consent_at = models.DateTimeField(_("email consent given"), null=True, blank=True)
    sms_consent = models.BooleanField(_("consents to SMS"), default=False)
    sms_consent_at = models.DateTimeField(_("SMS consent given"), null=True, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_primary=True), name="contact_one_primary_per_account"
            ),
            models.CheckConstraint(
                condition=Q(email_consent=False) | Q(email_consent_at__isnull=False),
                name="contact_email_consent_dated",
            ),
            models.CheckConstraint(
                condition=Q(sms_consent=False) | Q(sms_consent_at__isnull=False), name="contact_sms_consent_dated"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    """One entry of an account's timeline. Later capabilities add their own kinds."""

    KINDS = [
        ("order", _("Order")),
        ("return", _("Return")),
        ("invoice", _("Invoice")),
        ("payment", _("Payment")),
        ("note", _("Note")),
        ("call", _("Call")),
        ("email", _("Email")),
        ("meeting", _("Meeting")),
        ("merge", _("Merge")),
    ]
    PRIVATE_KINDS = frozenset({"note", "call", "meeting"})

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(_("kind"), max_length=20, choices=KINDS)
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    subject = models.CharField(_("subject"), max_length=200)
    # Entries written by services name an event (see timeline.py) and are worded when read.
    event = models.CharField(_("event"), max_length=40, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    body = models.TextField(_("details"), blank=True)
    # Private entries (notes, calls, meetings) are hidden from marketing.
    private = models.BooleanField(_("private"), default=False)
    ref_type = models.CharField(max_length=20, blank=True)
    ref_id = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "-occurred_at", "-id"])]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """The entry's headline in the reader's language."""
        from .timeline import render

        return render(self.event, self.params, self.subject) if self.event else self.subject


class SavedView(models.Model):
    """A named account-list filter a user comes back to."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filters"), max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name")]

    def __str__(self) -> str:
        return self.name


# --- duplicates ---------------------------------------------------------------------------------


class AccountMatchKey(models.Model):
    """One blocking key of an account ("tax:...", "phone:...", "name:...", see ``domain.duplicates``).

    Accounts that share a key are the only ones compared, so finding the duplicates of
    one record is a few index lookups, not a scan.
    """

    # The unique (account, key) index below serves lookups by account; no second index.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="match_keys", db_index=False)
    key = models.CharField(max_length=200, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="match_key_once_per_account")]

    def __str__(self) -> str:
        return self.key


class AccountMatchState(models.Model):
    """The ``updated_at`` of the account when its keys and pairs were last worked out."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="match_state")
    source_updated_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.source_updated_at:%Y-%m-%d %H:%M}"


class DuplicatePair(models.Model):
    """Two accounts that look like one customer, with the evidence; kept current as accounts change."""

    account_a = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="duplicate_pairs_a")
    account_b = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="duplicate_pairs_b")
    score = models.PositiveSmallIntegerField(_("score"))  # percent
    reasons = models.JSONField(_("reasons"), default=list)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ["-score", "-id"]
        indexes = [models.Index(fields=["score", "id"])]
        constraints = [
            models.UniqueConstraint(fields=["account_a", "account_b"], name="duplicate_pair_once"),
            models.CheckConstraint(condition=Q(account_a__lt=models.F("account_b")), name="duplicate_pair_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.account_a_id} ~ {self.account_b_id} ({self.score}%)"


class DuplicateDismissal(models.Model):
    """Someone looked at two accounts and said they are different customers; the pair stays hidden."""

    account_a = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="duplicate_dismissals_a")
    account_b = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="duplicate_dismissals_b")
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    dismissed_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("dismissed duplicate")
        verbose_name_plural = _("dismissed duplicates")
        constraints = [
            models.UniqueConstraint(fields=["account_a", "account_b"], name="duplicate_dismissal_once"),
            models.CheckConstraint(
                condition=Q(account_a__lt=models.F("account_b")), name="duplicate_dismissal_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_a_id} ≠ {self.account_b_id}"
