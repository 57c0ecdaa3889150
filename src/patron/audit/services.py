"""Record audit events. Every service that changes an account, price, order or payment calls this."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models

from .models import AuditEvent


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def snapshot(instance: models.Model, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The audited fields of a record, as plain JSON values (foreign keys by id)."""
    result: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if isinstance(field, models.ForeignKey):
            result[name] = _plain(getattr(instance, field.attname))
        else:
            result[name] = _plain(getattr(instance, name))
    return result


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields that changed, as {field: [before, after]}."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _event(
    actor: Any, action: str, instance: models.Model, account_id: int | None, changes: dict[str, Any] | None
) -> AuditEvent:
    return AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        entity_type=instance._meta.model_name or "",
        entity_id=str(instance.pk),
        account_id=account_id,
        changes=_plain(changes or {}),
    )


def audit_record(
    *,
    actor: Any,
    action: str,
    instance: models.Model,
    account_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    event = _event(actor, action, instance, account_id, changes)
    event.save()
    return event


def audit_records(
    *, actor: Any, instance: models.Model, account_id: int | None, events: list[tuple[str, dict[str, Any] | None]]
) -> list[AuditEvent]:
    """Several events on one record written at once, in order (``events``: action and changes)."""
    return AuditEvent.objects.bulk_create(
        [_event(actor, action, instance, account_id, changes) for action, changes in events]
    )
