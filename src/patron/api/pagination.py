"""Keyset pages over the API: ``?cursor=...&limit=...`` in, ``{"items": [...], "next_cursor": ...}`` out."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import TypeVar

from django.db import models
from django.db.models import QuerySet
from ninja import Field, Schema

from patron.core.pagination import BadCursor, Page, keyset_page

T = TypeVar("T", bound=models.Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_MAX_ID = 2**63 - 1


class PageQuery(Schema):
    cursor: str | None = Field(
        None, max_length=1000, description="`next_cursor` of the previous page; leave out for the first page."
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")


def _check_cursor(cursor: str, model: type[models.Model], field_name: str) -> None:
    """Refuse a cursor that could not have come from this list, before it reaches the database."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadCursor("invalid cursor") from exc
    if not isinstance(pk, int) or isinstance(pk, bool) or not -_MAX_ID <= pk <= _MAX_ID:
        raise BadCursor("invalid cursor")
    field = model._meta.get_field(field_name)
    if isinstance(field, models.DateTimeField):
        ok = isinstance(value, dict) and value.get("k") == "dt"
        if ok:
            try:
                ok = dt.datetime.fromisoformat(str(value.get("t"))).tzinfo is not None
            except ValueError:
                ok = False
    elif isinstance(field, models.DateField):
        ok = isinstance(value, dict) and value.get("k") == "d"
    elif isinstance(field, models.CharField):
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, int) and not isinstance(value, bool) and -_MAX_ID <= value <= _MAX_ID
    if not ok:
        raise BadCursor("invalid cursor")


def page_of(queryset: QuerySet[T], *, sort: str, query: PageQuery) -> Page[T]:
    """One page of ``queryset`` ordered by ``sort`` then id; a foreign or damaged cursor is a 422."""
    if query.cursor:
        _check_cursor(query.cursor, queryset.model, sort.lstrip("-"))
    return keyset_page(queryset, sort=sort, cursor=query.cursor or None, limit=query.limit)
