"""Forms of the account pages. They parse what the browser sent; the services decide what is valid.

Each form turns its input into the ``data`` a service takes, and ``add_service_errors``
puts a service's ``ValidationError`` (keyed by field, custom fields as
``custom.<key>``) back against the right input.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.domain.access import Action, Relation, Role, reach
from patron.staff.models import User

from .access import role_of
from .models import Account, Contact, CustomField, Industry, Region, Tag
from .selectors import AccountFilters


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def custom_field_name(key: str) -> str:
    return f"cf_{key}"


def region_choices() -> list[tuple[str, str]]:
    """Every region, indented under its parent (the tree is ordered by path)."""
    indent = {"country": "", "province": "\u00a0\u00a0", "city": "\u00a0\u00a0\u00a0\u00a0"}
    return [(r.code, f"{indent.get(r.level, '')}{r.name}") for r in Region.objects.all()]


def owner_queryset(user: Any) -> Any:
    """The people whose accounts ``user`` may see, for the owner filter and the owner field."""
    users = User.objects.filter(is_active=True).order_by("username")
    relations = reach(role_of(user), Action.VIEW_ACCOUNT)
    if Relation.OTHER in relations:
        return users.filter(role__in=[Role.SALESPERSON, Role.SALES_MANAGER, Role.ADMIN])
    if Relation.TEAM in relations:
        return users.filter(pk=user.pk) | users.filter(team__manager=user)
    return users.filter(pk=user.pk)


def assignable_owners(user: Any) -> Any | None:
    """Whom ``user`` may hand an account to; None when the owner is always the user (salespeople)."""
    role = role_of(user)
    if role == Role.ADMIN:
        return User.objects.filter(is_active=True).order_by("username")
    if role == Role.SALES_MANAGER:
        return owner_queryset(user)
    return None


def _user_label(user: User) -> str:
    return user.display_name()


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _user_label(obj)


class AccountFilterForm(forms.Form):
    """The account list's filters, read from the query string (GET)."""

    KEY_CHOICES = [("", _("Any")), ("yes", _("Key accounts")), ("no", _("Not key accounts"))]

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    owner = OwnerChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False, empty_label=_("Anyone"))
    region = forms.ChoiceField(label=_("Region"), required=False)
    industry = forms.ChoiceField(label=_("Industry"), required=False)
    key_account = forms.ChoiceField(label=_("Key account"), required=False, choices=KEY_CHOICES)
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("Any")), *Account.KINDS])
    created_from = forms.DateField(label=_("Created from"), required=False, widget=DateInput)
    created_to = forms.DateField(label=_("Created to"), required=False, widget=DateInput)
    last_order_from = forms.DateField(label=_("Last order from"), required=False, widget=DateInput)
    last_order_to = forms.DateField(label=_("Last order to"), required=False, widget=DateInput)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owners = owner_queryset(user)
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        # Someone who sees only their own accounts has nobody else to filter by.
        if reach(role_of(user), Action.VIEW_ACCOUNT) == frozenset({Relation.OWN}):
            del self.fields["owner"]
        self.fields["region"].choices = [("", _("Anywhere")), *region_choices()]  # type: ignore[attr-defined]
        self.fields["industry"].choices = [  # type: ignore[attr-defined]
            ("", _("Any")),
            *((i.code, i.name) for i in Industry.objects.all()),
        ]
        self.fields["tag"].choices = [("", _("Any")), *((t.name, t.name) for t in Tag.objects.all())]  # type: ignore[attr-defined]
        self.custom_fields = list(CustomField.objects.filter(active=True))
        self.custom_names: dict[str, list[str]] = {}
        for cf in self.custom_fields:
            name = custom_field_name(cf.key)
            if cf.kind == "number":
                self.fields[f"{name}_min"] = forms.DecimalField(
                    label=_("%(field)s from") % {"field": cf.label}, required=False, max_digits=24, decimal_places=6
                )
                self.fields[f"{name}_max"] = forms.DecimalField(
                    label=_("%(field)s to") % {"field": cf.label}, required=False, max_digits=24, decimal_places=6
                )
                self.custom_names[cf.key] = [f"{name}_min", f"{name}_max"]
            elif cf.kind == "date":
                self.fields[f"{name}_min"] = forms.DateField(
                    label=_("%(field)s from") % {"field": cf.label}, required=False, widget=DateInput
                )
                self.fields[f"{name}_max"] = forms.DateField(
                    label=_("%(field)s to") % {"field": cf.label}, required=False, widget=DateInput
                )
                self.custom_names[cf.key] = [f"{name}_min", f"{name}_max"]
            elif cf.kind == "choice":
                self.fields[name] = forms.ChoiceField(
                    label=cf.label, required=False, choices=[("", _("Any")), *((str(c), str(c)) for c in cf.choices)]
                )
                self.custom_names[cf.key] = [name]
            else:
                self.fields[name] = forms.CharField(label=cf.label, required=False, max_length=200)
                self.custom_names[cf.key] = [name]

    @property
    def basic_fields(self) -> list[forms.BoundField]:
        names = ["owner", "region", "industry", "key_account", "tag", "kind"]
        return [self[n] for n in names if n in self.fields]

    @property
    def date_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in ("created_from", "created_to", "last_order_from", "last_order_to")]

    @property
    def extra_fields(self) -> list[forms.BoundField]:
        return [self[n] for names in self.custom_names.values() for n in names]

    def field_for_error(self, error_field: str) -> str | None:
        """The input a selector's FilterError belongs to (custom.<key> -> cf_<key>...)."""
        if error_field.startswith("custom."):
            names = self.custom_names.get(error_field.removeprefix("custom."))
            return names[0] if names else None
        if error_field == "tags":
            return "tag"
        return error_field if error_field in self.fields else None

    def filters(self) -> AccountFilters:
        """The filters that parsed; an invalid input is left out (and shown with its error)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        key = data.get("key_account")
        custom: dict[str, str] = {}
        for cf in self.custom_fields:
            names = self.custom_names[cf.key]
            if len(names) == 2:
                low, high = data.get(names[0]), data.get(names[1])
                if low is not None or high is not None:
                    custom[cf.key] = f"{_plain(low)}..{_plain(high)}"
            elif data.get(names[0]):
                custom[cf.key] = str(data[names[0]])
        owner = data.get("owner")
        return AccountFilters(
            q=(data.get("q") or "").strip(),
            owner=owner.pk if owner is not None else None,
            region=data.get("region") or "",
            industry=data.get("industry") or "",
            key_account=True if key == "yes" else False if key == "no" else None,
            tags=[data["tag"]] if data.get("tag") else [],
            kind=data.get("kind") or "",
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            last_order_from=data.get("last_order_from"),
            last_order_to=data.get("last_order_to"),
            custom=custom,
            sort=data.get("sort") or "code",
        )

    def is_filtered(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return any(v not in (None, "", []) for k, v in data.items() if k != "sort")


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def add_service_errors(form: forms.BaseForm, exc: ValidationError, names: dict[str, str] | None = None) -> None:
    """Show a service's field errors on ``form``: by field name, through ``names``, else at the top."""
    names = names or {}
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for field, messages in errors.items():
        target = names.get(field, field)
        if target.startswith("custom."):
            target = custom_field_name(target.removeprefix("custom."))
        for message in messages:
            if target in form.fields:
                form.add_error(target, message)
            else:
                form.add_error(None, f"{field}: {message}" if field != "__all__" else message)


class AccountForm(forms.Form):
    """Create or edit an account; values go to ``account_create`` / ``account_update`` as entered."""

    code = forms.CharField(label=_("Code"), max_length=100)
    name = forms.CharField(label=_("Name"), max_length=300)
    kind = forms.ChoiceField(label=_("Kind"), choices=Account.KINDS)
    owner = OwnerChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none(), required=False)
    industry = forms.ModelChoiceField(label=_("Industry"), queryset=Industry.objects.none(), required=False)
    is_key_account = forms.BooleanField(label=_("Key account"), required=False)
    tags = forms.CharField(label=_("Tags"), required=False, max_length=1000, help_text=_("Separate tags with commas."))
    payment_terms_days = forms.IntegerField(label=_("Payment terms (days)"), min_value=0, max_value=3650)
    credit_limit = forms.CharField(label=_("Credit limit"), max_length=40, required=False)
    preferred_channel = forms.ChoiceField(label=_("Preferred channel"), choices=Account.CHANNELS)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=DateInput)
    tax_id = forms.CharField(label=_("Tax id"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=100, required=False)
    email = forms.CharField(label=_("Email"), max_length=300, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    notes = forms.CharField(label=_("Private notes"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, user: Any, account: Account | None = None, **kwargs: Any) -> None:
        if account is not None and "initial" not in kwargs:
            kwargs["initial"] = account_initial(account)
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.all()  # type: ignore[attr-defined]
        self.fields["region"].label_from_instance = lambda r: r.full_name()  # type: ignore[attr-defined]
        self.fields["industry"].queryset = Industry.objects.all()  # type: ignore[attr-defined]
        owners = assignable_owners(user)
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        from .access import can

        if not (can(user, Action.VIEW_PRIVATE_NOTES, account) if account else can(user, Action.VIEW_PRIVATE_NOTES)):
            del self.fields["notes"]
        self.custom_fields = list(CustomField.objects.filter(active=True))
        for cf in self.custom_fields:
            name = custom_field_name(cf.key)
            field: forms.Field
            if cf.kind == "choice":
                field = forms.ChoiceField(choices=[("", "—"), *((str(c), str(c)) for c in cf.choices)])
            elif cf.kind == "date":
                field = forms.CharField(max_length=20, widget=DateInput)
            elif cf.kind == "number":
                field = forms.CharField(max_length=40, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
            else:
                field = forms.CharField(max_length=1000)
            field.label = cf.label
            # The service checks required custom fields, so its message shows in one place.
            field.required = False
            field.widget.is_required = False
            if cf.required:
                field.widget.attrs["data-required"] = "true"
            self.fields[name] = field
            if account is not None and name not in self.initial:
                self.initial[name] = account.custom.get(cf.key, "")

    @property
    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[custom_field_name(cf.key)] for cf in self.custom_fields]

    @property
    def main_bound_fields(self) -> list[forms.BoundField]:
        return [f for f in self if not f.name.startswith("cf_")]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        result: dict[str, Any] = {
            name: data[name]
            for name in (
                "code",
                "name",
                "kind",
                "is_key_account",
                "payment_terms_days",
                "preferred_channel",
                "language",
                "birthday",
                "tax_id",
                "phone",
                "email",
                "address",
            )
        }
        result["credit_limit"] = (data.get("credit_limit") or "0").strip()
        result["region"] = data["region"]
        result["industry"] = data["industry"]
        if "owner" in self.fields and data.get("owner") is not None:
            result["owner"] = data["owner"]
        if "notes" in self.fields:
            result["notes"] = data["notes"]
        result["tags"] = [t.strip() for t in (data.get("tags") or "").replace("，", ",").split(",") if t.strip()]
        result["custom"] = {cf.key: data.get(custom_field_name(cf.key), "") for cf in self.custom_fields}
        return result


def account_initial(account: Account) -> dict[str, Any]:
    initial: dict[str, Any] = {
        name: getattr(account, name)
        for name in (
            "code",
            "name",
            "kind",
            "is_key_account",
            "payment_terms_days",
            "preferred_channel",
            "language",
            "birthday",
            "tax_id",
            "phone",
            "email",
            "address",
            "notes",
        )
    }
    initial["credit_limit"] = format(account.credit_limit, "f")
    initial["owner"] = account.owner_id
    initial["region"] = account.region_id
    initial["industry"] = account.industry_id
    initial["tags"] = ", ".join(account.tags.values_list("name", flat=True))
    return initial


class ContactForm(forms.ModelForm):
    """A contact; the service stamps consent dates and keeps one primary contact per account."""

    phone = forms.CharField(label=_("Phone"), max_length=100, required=False)
    email = forms.CharField(label=_("Email"), max_length=300, required=False)

    class Meta:
        model = Contact
        fields = ["name", "role", "title", "phone", "email", "email_consent", "sms_consent", "is_primary"]
        labels = {"name": pgettext_lazy("person", "Name")}

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def _post_clean(self) -> None:
        # Model validation belongs to the service; the form only parses.
        pass


class NoteForm(forms.Form):
    KINDS = [("note", _("Note")), ("call", _("Call")), ("meeting", _("Meeting"))]
    kind = forms.ChoiceField(label=_("Kind"), choices=KINDS)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=DateTimeInput,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        help_text=_("Leave empty for now."),
    )

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        occurred = data.get("occurred_at")
        if occurred is not None and timezone.is_naive(occurred):
            occurred = timezone.make_aware(occurred)
        return {"kind": data["kind"], "subject": data["subject"], "body": data["body"], "occurred_at": occurred}


class EmailForm(forms.Form):
    contact = forms.ModelChoiceField(label=pgettext_lazy("email recipient", "To"), queryset=Contact.objects.none())
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["contact"]
        field.queryset = account.contacts.filter(email_consent=True).exclude(email="")  # type: ignore[attr-defined]
        field.label_from_instance = lambda c: f"{c.name} <{c.email}>"  # type: ignore[attr-defined]


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)
