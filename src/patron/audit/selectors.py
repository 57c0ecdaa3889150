"""Reads of the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import QuerySet

from .models import AuditEvent

# Fields whose before/after values only readers of private notes may see.
PRIVATE_FIELDS = frozenset({"notes"})


def account_history(account: Any) -> QuerySet[AuditEvent]:
    """Every event recorded against an account, its contacts, orders and payments included."""
    return AuditEvent.objects.filter(account=account).select_related("actor")


def record_history(instance: models.Model) -> QuerySet[AuditEvent]:
    """The events of one record (a product's price changes, say), newest first."""
    return (
        AuditEvent.objects.filter(entity_type=instance._meta.model_name, entity_id=str(instance.pk))
        .select_related("actor")
        .order_by("-at", "-id")
    )


def without_private(changes: dict[str, Any]) -> dict[str, Any]:
    return {field: values for field, values in changes.items() if field not in PRIVATE_FIELDS}
