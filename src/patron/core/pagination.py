"""Keyset pagination: pages stay fast at row one million, where OFFSET scans every row before it.

A cursor is the sort value and id of the last row of the previous page, opaque to
the client (URL-safe base64 of JSON). The sort field must be non-null; ``id``
breaks ties so the order is total.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.db.models import Model, Q, QuerySet

T = TypeVar("T", bound=Model)


class BadCursor(ValueError):
    pass


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, dt.datetime | dt.date):
        value = {"t": value.isoformat(), "k": "dt" if isinstance(value, dt.datetime) else "d"}
    elif isinstance(value, Decimal):
        value = {"t": str(value), "k": "dec"}
    raw = json.dumps([value, pk], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if isinstance(value, dict):
            kind, text = value["k"], value["t"]
            parsers: dict[str, Callable[[str], Any]] = {
                "dt": dt.datetime.fromisoformat,
                "d": dt.date.fromisoformat,
                "dec": Decimal,
            }
            value = parsers[kind](text)
        if not isinstance(pk, int):
            raise TypeError
        return value, pk
    except (ValueError, TypeError, KeyError) as exc:
        raise BadCursor("invalid cursor") from exc


def keyset_page(queryset: QuerySet[T], *, sort: str, cursor: str | None, limit: int) -> Page[T]:
    """One page of ``queryset`` ordered by ``sort`` ("name" or "-name") then id."""
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    ordering = [f"-{field}", "-id"] if descending else [field, "id"]
    queryset = queryset.order_by(*ordering)
    if cursor:
        value, pk = decode_cursor(cursor)
        op = "lt" if descending else "gt"
        # The redundant range on ``field`` alone lets the database seek in its index
        # instead of scanning from the start (SQLite does not derive it from the OR).
        queryset = queryset.filter(**{f"{field}__{op}e": value}).filter(
            Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"id__{op}": pk})
        )
    rows = list(queryset[: limit + 1])
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        next_cursor = encode_cursor(getattr(last, field), last.pk)
    return Page(items=items, next_cursor=next_cursor)
