"""Keyset pages over the API: ``?cursor=...&limit=...`` in, ``{"items": [...], "next_cursor": ...}`` out."""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.models import QuerySet
from ninja import Field, Schema

from patron.core.pagination import Page, keyset_page

T = TypeVar("T", bound=models.Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(Schema):
    cursor: str | None = Field(
        None, max_length=1000, description="`next_cursor` of the previous page; leave out for the first page."
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")


def page_of(queryset: QuerySet[T], *, sort: str, query: PageQuery) -> Page[T]:
    """One page of ``queryset`` ordered by ``sort`` then id; a foreign or damaged cursor is a 422."""
    return keyset_page(queryset, sort=sort, cursor=query.cursor or None, limit=query.limit)
