"""Users, teams and API tokens in the admin; also installs Patron's admin gate.

Who may do what comes from the role (``patron.domain.access``), not from Django's
groups and permissions, so groups are not offered here.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patron.accounts.access import can
from patron.audit.services import audit_record
from patron.core.admin import AccessAdminMixin, AuditedAdminMixin, configure_site
from patron.domain.access import Action

from .models import ApiToken, Team, User

configure_site(admin.site)

with contextlib.suppress(NotRegistered):
    admin.site.unregister(Group)


class StaffCreationForm(AdminUserCreationForm):  # type: ignore[type-arg]
    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined,misc]
        model = User
        fields = ("username",)


class StaffChangeForm(UserChangeForm):  # type: ignore[type-arg]
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined,misc]
        model = User
        fields = "__all__"


USER_AUDIT_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "team",
    "language",
    "phone",
    "is_active",
    "is_staff",
    "is_superuser",
)


@admin.register(User)
class StaffUserAdmin(AuditedAdminMixin, AccessAdminMixin, UserAdmin):  # type: ignore[type-arg]
    """Users and their roles; only those who may manage settings see or change them (audited)."""

    view_action = Action.MANAGE_SETTINGS
    change_action = Action.MANAGE_SETTINGS
    add_action = Action.MANAGE_SETTINGS
    delete_action = Action.MANAGE_SETTINGS
    audit_entity = "USER"
    audit_fields = USER_AUDIT_FIELDS

    form = StaffChangeForm
    add_form = StaffCreationForm
    list_display = ("username", "first_name", "last_name", "email", "role", "team", "is_active", "last_login")
    list_filter = ("role", "team", "is_active", "language")
    list_select_related = ("team",)
    search_fields = ("username", "first_name", "last_name", "email", "phone")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "phone", "language")}),
        (
            _("Role"),
            {
                "fields": ("role", "team", "is_active", "is_staff", "is_superuser"),
                "description": _(
                    "The role decides what the user may see and do everywhere in Patron; admins, sales "
                    "managers and finance may also enter this admin."
                ),
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ()

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = User.objects.get(pk=unquote(id))
            # The audit says that the password changed and by whom, never what it is.
            audit_record(actor=request.user, action="USER_PASSWORD_CHANGED", instance=user, changes={})
        return response

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not getattr(request.user, "is_superuser", False):
            fields.append("is_superuser")  # only a superuser makes another
        return fields


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, AccessAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_action = None  # everyone in the admin may see the teams
    change_action = Action.MANAGE_SETTINGS
    add_action = Action.MANAGE_SETTINGS
    delete_action = Action.MANAGE_SETTINGS
    list_display = ("name", "manager")
    search_fields = ("name",)
    list_select_related = ("manager",)


@admin.register(ApiToken)
class ApiTokenAdmin(AccessAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Tokens are read-only (only a hash is stored); they can be revoked.

    Whoever may manage settings sees every token; anyone else in the admin sees their own.
    """

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        qs = super().get_queryset(request)
        if can(request.user, Action.MANAGE_SETTINGS):
            return qs
        return qs.filter(user=request.user.pk)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        now = timezone.now()
        count = 0
        for token in self.get_queryset(request).filter(pk__in=queryset.values("pk"), revoked_at__isnull=True):
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            audit_record(
                actor=request.user,
                action="API_TOKEN_REVOKED",
                instance=token,
                changes={"revoked_at": [None, now.isoformat()], "user": [None, str(token.user_id)]},
            )
            count += 1
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": count}, messages.SUCCESS)
