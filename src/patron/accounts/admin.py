"""Accounts and their reference data in the admin, under the same access table as the API and pages.

Account and contact changes go through ``patron.accounts.services`` so they are
validated, normalised and audited exactly like everywhere else.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from patron.core.admin import (
    AccessAdminMixin,
    ReferenceAdmin,
    ServiceAdminMixin,
    attach_errors,
    dry_run,
    form_value,
)
from patron.domain.access import Action, Role

from . import services
from .access import can, role_of
from .models import Account, Contact, CustomField, Industry, Region, Tag

READ_ONLY_ACCOUNT_FIELDS = ("created_at", "updated_at", "first_order_date", "last_order_date")


def assignable_owners(user: Any) -> QuerySet[Any]:
    """Whom ``user`` may hand an account to: admins anyone, managers themselves and their teams."""
    from patron.staff.models import User

    role = role_of(user)
    if role == Role.ADMIN:
        return User.objects.all()
    if role == Role.SALES_MANAGER:
        return User.objects.filter(Q(pk=user.pk) | Q(team__manager=user))
    return User.objects.filter(pk=user.pk)


# --- contacts -------------------------------------------------------------------


class ContactFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """Contacts are written by ``contact_create``/``contact_update``/``contact_remove``.

    ``clean`` asks the services (in a rolled-back savepoint) so their errors show on
    the row; the admin's ``save_formset`` then calls them for real.
    """

    actor: Any = None

    def operations(self) -> list[tuple[forms.ModelForm, str, Any]]:  # type: ignore[type-arg]
        """(form, "create" | "update" | "remove", call) for every row that changes."""
        ops: list[tuple[forms.ModelForm, str, Any]] = []  # type: ignore[type-arg]
        account = self.instance
        actor = self.actor
        for form in self.initial_forms:
            contact = form.instance
            if self.can_delete and bool(form.cleaned_data.get("DELETE")):
                ops.append((form, "remove", lambda c=contact: services.contact_remove(actor=actor, contact=c)))
            elif form.has_changed():
                data = {
                    n: form_value(form.cleaned_data.get(n)) for n in form.changed_data if n in services.CONTACT_FIELDS
                }
                ops.append(
                    (form, "update", lambda c=contact, d=data: services.contact_update(actor=actor, contact=c, data=d))
                )
        for form in self.extra_forms:
            if not form.has_changed() or (self.can_delete and bool(form.cleaned_data.get("DELETE"))):
                continue
            data = {n: form_value(form.cleaned_data.get(n)) for n in form.fields if n in services.CONTACT_FIELDS}
            ops.append((form, "create", lambda d=data: services.contact_create(actor=actor, account=account, data=d)))
        return ops

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        for form, kind, call in self.operations():
            if kind == "remove":
                continue
            exc = dry_run(call)
            if exc is not None:
                attach_errors(form, exc)


class ContactInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Contact
    formset = ContactFormSet
    extra = 0
    fields = (
        "name",
        "role",
        "title",
        "phone",
        "email",
        "email_consent",
        "email_consent_at",
        "sms_consent",
        "sms_consent_at",
        "is_primary",
    )
    readonly_fields = ("email_consent_at", "sms_consent_at")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            can(request.user, Action.VIEW_ACCOUNT, obj) if obj is not None else can(request.user, Action.VIEW_ACCOUNT)
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and can(request.user, Action.EDIT_ACCOUNT, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and can(request.user, Action.EDIT_ACCOUNT, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and can(request.user, Action.EDIT_ACCOUNT, obj)


# --- accounts ---------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(ServiceAdminMixin, AccessAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """A manager sees the team's accounts, a salesperson their own, finance and marketing all.

    Private notes are shown only to those who may read them (never to finance or
    marketing). Saving calls ``account_create``/``account_update``; accounts are not
    deleted in the admin (they carry orders, invoices and an audit trail).
    """

    view_action = Action.VIEW_ACCOUNT
    change_action = Action.EDIT_ACCOUNT
    add_action = Action.CREATE_ACCOUNT
    delete_action = None
    account_path = ""

    inlines = [ContactInline]
    list_display = (
        "code",
        "name",
        "kind",
        "owner",
        "region",
        "industry",
        "is_key_account",
        "credit_limit",
        "last_order_date",
    )
    list_filter = (
        "kind",
        "is_key_account",
        ("owner", admin.RelatedOnlyFieldListFilter),
        ("region", admin.RelatedOnlyFieldListFilter),
        ("industry", admin.RelatedOnlyFieldListFilter),
        "tags",
    )
    list_select_related = ("owner", "region", "industry")
    # Never the private notes: a search would reveal what the list hides.
    search_fields = ("code", "name", "phone", "email", "tax_id")
    filter_horizontal = ("tags",)
    save_as = False
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "owner", "is_key_account", "tags")}),
        (_("Classification"), {"fields": ("region", "industry")}),
        (
            _("Contact details"),
            {"fields": ("phone", "email", "address", "language", "preferred_channel", "birthday", "tax_id")},
        ),
        (_("Terms"), {"fields": ("payment_terms_days", "credit_limit")}),
        (_("Private notes"), {"fields": ("notes",)}),
        (_("Custom fields"), {"fields": ("custom",)}),
        (_("History"), {"fields": READ_ONLY_ACCOUNT_FIELDS}),
    )

    def may_read_notes(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Action.VIEW_PRIVATE_NOTES, obj)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.may_read_notes(request, obj):
            return fieldsets
        return [(name, opts) for name, opts in fieldsets if "notes" not in opts["fields"]]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not self.may_read_notes(request, obj):
            exclude.append("notes")
        return exclude

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(READ_ONLY_ACCOUNT_FIELDS)
        if role_of(request.user) not in (Role.ADMIN, Role.SALES_MANAGER):
            fields.append("owner")  # only managers and admins hand accounts over
        return fields

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        # Contacts are added once the account exists (their service needs it).
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "owner":
            kwargs["queryset"] = assignable_owners(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def service_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> Account:
        data = self.service_fields(form, change, (*services.ACCOUNT_FIELDS, "tags"))
        if change:
            return services.account_update(actor=request.user, account=obj, data=data)
        return services.account_create(actor=request.user, data=data)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if not isinstance(formset, ContactFormSet):
            super().save_formset(request, form, formset, change)
            return
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row, kind, call in formset.operations():
            if kind == "remove":
                formset.deleted_objects.append(row.instance)
                call()
            elif kind == "update":
                formset.changed_objects.append((call(), row.changed_data))
            else:
                formset.new_objects.append(call())


# --- reference data ----------------------------------------------------------------


@admin.register(Region)
class RegionAdmin(ReferenceAdmin):
    list_display = ("code", "name_zh", "name_en", "level", "parent", "path")
    list_filter = ("level",)
    search_fields = ("code", "name_zh", "name_en")
    readonly_fields = ("path",)
    audit_fields = ("code", "name_zh", "name_en", "level", "parent", "path")


@admin.register(Industry)
class IndustryAdmin(ReferenceAdmin):
    list_display = ("code", "name_zh", "name_en")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Tag)
class TagAdmin(ReferenceAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(CustomField)
class CustomFieldAdmin(ReferenceAdmin):
    audit_entity = "CUSTOM_FIELD"
    list_display = ("key", "label_zh", "label_en", "kind", "required", "active", "position")
    list_filter = ("kind", "required", "active")
    search_fields = ("key", "label_zh", "label_en")
