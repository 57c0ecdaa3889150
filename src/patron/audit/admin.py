"""The audit trail in the admin: a read-only list, filtered, for whoever may read the history.

No one adds, changes or deletes audit events here, not even a superuser; the
database refuses it anyway (see migrations/0003_append_only.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from patron.accounts.access import can
from patron.core.admin import ReadOnlyAdminMixin, pretty_json
from patron.domain.access import Action

from .models import AuditEvent

PRIVATE_FIELDS = frozenset({"notes"})


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Events of accounts are scoped like the account's history (``VIEW_HISTORY``).

    Events with no account (products, users, reference data) are shown only to
    those whose history reach is every account (admins and finance).
    """

    read_only_note = _("The audit trail is append-only: events are never changed or deleted.")
    view_action = Action.VIEW_HISTORY
    account_path = "account__"
    list_display = ("at", "actor", "action", "entity_type", "entity_id", "account")
    list_filter = ("action", "entity_type", ("actor", admin.RelatedOnlyFieldListFilter))
    search_fields = ("action", "entity_type", "entity_id", "account__code")
    date_hierarchy = "at"
    list_select_related = ("actor", "account")
    fields = ("at", "actor", "action", "entity_type", "entity_id", "account", "changes_display")
    readonly_fields = fields
    actions = None

    def account_of(self, obj: Any) -> Any:
        return getattr(obj, "account", None) if obj is not None else None

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        event = super().get_object(request, object_id, from_field)
        account = event.account if event is not None and event.account_id is not None else None
        if event is not None and account is not None and not can(request.user, Action.VIEW_PRIVATE_NOTES, account):
            # Shown, never saved: private notes stay hidden from who may not read them.
            event.changes = redact(event.changes)
        return event

    @admin.display(description=_("changes"))
    def changes_display(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", pretty_json(obj.changes or {}))


def redact(changes: Any) -> dict[str, Any]:
    hidden = str(_("(hidden)"))
    return {key: ([hidden, hidden] if key in PRIVATE_FIELDS else value) for key, value in dict(changes or {}).items()}
