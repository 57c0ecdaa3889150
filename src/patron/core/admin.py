"""Shared pieces of Patron's Django admin.

The admin applies the same access table (``patron.domain.access``) as the API and
the pages, through ``patron.accounts.access``:

* who enters the admin at all (``may_enter_admin``, installed on the site by
  ``configure_site``);
* what each user sees (``get_queryset`` scoped like the selectors) and may change
  (``has_*_permission`` derived from ``can`` with an ``Action``), by
  ``AccessAdminMixin``;
* writes that go through the services, so validation, audit rows and locks hold
  (``ServiceAdminMixin``: the form runs the service in a savepoint that is rolled
  back, to show its field errors; saving runs it for real);
* reference data that has no service is audited by ``AuditedAdminMixin``;
* money-moving records are read-only (``ReadOnlyAdminMixin``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from patron.accounts.access import can, role_of, scoped
from patron.audit.services import audit_record, diff, snapshot
from patron.core.errors import Conflict
from patron.domain.access import Action, Role

# --- who enters the admin -----------------------------------------------------

ADMIN_SITE_ROLES = frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.FINANCE})


def may_enter_admin(user: Any) -> bool:
    """The admin is the back office of admins, sales managers and finance.

    Any *active* user whose role is one of those may enter; Django's ``is_staff``
    flag is not consulted, so the role stays the one place that says who may do
    what (a second flag could drift from it). Salespeople and marketing work in
    the pages and the API. Inside the admin every list and every change is still
    limited by the access table, exactly as on the other surfaces.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return role_of(user) in ADMIN_SITE_ROLES


class PatronAdminLoginForm(AdminAuthenticationForm):
    """The admin login admits the roles of ``may_enter_admin`` instead of ``is_staff`` users."""

    def confirm_login_allowed(self, user: Any) -> None:
        if not may_enter_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


def configure_site(site: admin.AdminSite) -> None:
    """Install Patron's gate and titles on the default admin site."""

    def has_permission(request: HttpRequest) -> bool:
        return may_enter_admin(getattr(request, "user", None))

    site.has_permission = has_permission  # type: ignore[method-assign]
    site.login_form = PatronAdminLoginForm
    site.site_header = _("Patron administration")
    site.site_title = _("Patron admin")
    site.index_title = _("Back office")


# --- permissions from the access table ------------------------------------------


def _user(request: HttpRequest) -> Any:
    return getattr(request, "user", None)


class AccessAdminMixin:
    """``has_*_permission`` and ``get_queryset`` from the access table.

    ``view_action`` None: any user who may enter the admin may look (reference
    data). ``change_action``/``add_action``/``delete_action`` None: nobody.
    ``account_path`` says how to reach the owning account ("" for an account,
    "account__" for a record of one; None when the model is not account-owned).
    """

    view_action: Action | None = None
    change_action: Action | None = None
    add_action: Action | None = None
    delete_action: Action | None = None
    account_path: str | None = None

    def account_of(self, obj: Any) -> Any:
        if self.account_path is None or obj is None:
            return None
        if self.account_path == "":
            return obj
        target = obj
        for part in self.account_path.rstrip("_").split("__"):
            target = getattr(target, part)
        return target

    def _allowed(self, request: HttpRequest, action: Action | None, obj: Any = None) -> bool:
        user = _user(request)
        if action is None:
            return False
        return can(user, action, self.account_of(obj))

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Only the declared filters: Django would also take any field in the query string,
        and ``?notes__startswith=`` would read private notes out a letter at a time."""
        declared = {f if isinstance(f, str) else f[0] for f in getattr(self, "list_filter", ())}
        if getattr(self, "date_hierarchy", None):
            declared.add(self.date_hierarchy)  # type: ignore[attr-defined]
        if lookup.split(LOOKUP_SEP)[0] not in declared:
            return False
        return bool(super().lookup_allowed(lookup, value, request))  # type: ignore[misc]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        if self.account_path is not None and self.view_action is not None:
            qs = scoped(qs, _user(request), self.view_action, self.account_path)
        return qs

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = _user(request)
        if self.view_action is None:
            allowed = bool(user is not None and user.is_authenticated and user.is_active)
        else:
            allowed = can(user, self.view_action, self.account_of(obj))
        return allowed or self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.change_action, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        # Inlines are asked with the parent object as a second argument.
        return self._allowed(request, self.add_action)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.delete_action, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


# --- read-only records ------------------------------------------------------------

READ_ONLY_MONEY = _(
    "Read-only: orders, returns, invoices and payments are recorded only through Patron's pages and API, "
    "so totals, locks and the audit trail always hold."
)


class ReadOnlyAdminMixin(AccessAdminMixin):
    """A record the admin shows but never writes."""

    read_only_note: Any = READ_ONLY_MONEY

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra_context = {"subtitle": self.read_only_note, **(extra_context or {})}
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if fieldsets:
            name, options = fieldsets[0]
            fieldsets = [(name, {**options, "description": self.read_only_note}), *fieldsets[1:]]
        return fieldsets


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent's permission already decided


# --- writes through the services -------------------------------------------------


class _DryRun(Exception):
    pass


def dry_run(call: Callable[[], Any]) -> ValidationError | None:
    """Run a service and undo it; return its ValidationError (or Conflict as one), if any.

    The admin validates a form by what the service would say, so the user sees the
    same field errors as in the API; nothing the trial wrote survives.
    """
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        return None
    except ValidationError as exc:
        return exc
    except Conflict as exc:
        return ValidationError({exc.field or "__all__": [exc.message]})


def attach_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's field errors on the form's fields ("custom.size" on "custom")."""
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [("__all__", exc.messages)]
    for field, messages in items:
        base = field.split(".", 1)[0]
        for message in messages:
            if base in form.fields:
                text = message if base == field else f"{field.split('.', 1)[1]}: {message}"
                form.add_error(base, text)
            elif field == "__all__":
                form.add_error(None, message)
            else:
                form.add_error(None, f"{field}: {message}")


def form_value(value: Any) -> Any:
    """A cleaned form value as the services take it (tags by name)."""
    if isinstance(value, QuerySet | list | tuple) and all(isinstance(v, models.Model) for v in value):
        return [str(v) for v in value]
    return value


class ServiceAdminMixin:
    """Saves of the main form go through ``service_save`` (a service call), never ``obj.save()``.

    Subclasses implement ``service_save(request, obj, form, change)`` returning the
    saved instance. The form runs it in a rolled-back savepoint during validation,
    so service errors appear next to the fields; ``save_model`` runs it for real.
    """

    def service_save(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Any:  # type: ignore[type-arg]
        raise NotImplementedError

    def service_fields(self, form: forms.ModelForm, change: bool, allowed: Iterable[str]) -> dict[str, Any]:  # type: ignore[type-arg]
        """The data a service gets: changed fields on change, every field on add."""
        names = form.changed_data if change else list(form.fields)
        allowed = set(allowed)
        return {name: form_value(form.cleaned_data.get(name)) for name in names if name in allowed}

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        model_admin = self

        def _post_clean(form: Any) -> None:
            base._post_clean(form)
            if form._errors:
                return
            exc = dry_run(lambda: model_admin.service_save(request, form.instance, form, change))
            if exc is not None:
                attach_errors(form, exc)

        return type(base.__name__, (base,), {"_post_clean": _post_clean})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = self.service_save(request, obj, form, change)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Many-to-many fields were saved by the service; inlines decide for themselves.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)  # type: ignore[attr-defined]


# --- audited reference data --------------------------------------------------------


class AuditedAdminMixin:
    """Reference data has no service: the admin writes it and records an audit row."""

    audit_entity: str = ""
    audit_fields: tuple[str, ...] = ()

    def _audit_fields(self, obj: Any) -> tuple[str, ...]:
        if self.audit_fields:
            return self.audit_fields
        return tuple(f.name for f in obj._meta.concrete_fields if not f.primary_key)

    def _entity(self, obj: Any) -> str:
        return self.audit_entity or (obj._meta.model_name or "").upper()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = self._audit_fields(obj)
        before = snapshot(type(obj)._default_manager.get(pk=obj.pk), fields) if change and obj.pk else {}
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        changes = diff(before, snapshot(obj, fields))
        if changes or not change:
            audit_record(
                actor=_user(request),
                action=f"{self._entity(obj)}_{'UPDATED' if change else 'CREATED'}",
                instance=obj,
                changes=changes,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            actor=_user(request),
            action=f"{self._entity(obj)}_DELETED",
            instance=obj,
            changes=diff(snapshot(obj, self._audit_fields(obj)), {}),
        )
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReferenceAdmin(AuditedAdminMixin, AccessAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Regions, industries, tags, custom fields, categories, rates: anyone in the admin reads,
    whoever may manage settings writes (audited)."""

    change_action = Action.MANAGE_SETTINGS
    add_action = Action.MANAGE_SETTINGS
    delete_action = Action.MANAGE_SETTINGS


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
