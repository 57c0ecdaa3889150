"""Queries run hundreds of times a second, prepared once per connection on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection, models


def fetch_prepared(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """On PostgreSQL, through a cursor that binds on the server, so that psycopg prepares the query
    once it has run a few times (``prepare_threshold``): planning it costs PostgreSQL five times what
    running it does, and Django's own cursors bind on the client, which never prepares.
    ``PATRON_DATABASE_PREPARE=0`` (behind a pooler in transaction mode) turns preparing off."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    import psycopg

    connection.ensure_connection()
    raw: Any = psycopg.Cursor(connection.connection)
    # Django's wrapper: errors, query logging and execute wrappers as for any other query.
    with connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def as_stored(*instances: models.Model) -> None:
    """Decimals as a read would give them back (75 -> 75.0000 in a column of four places), so a record
    just written can answer for itself without being read again."""
    for instance in instances:
        for field in instance._meta.concrete_fields:
            if isinstance(field, models.DecimalField):
                value = getattr(instance, field.attname)
                if isinstance(value, Decimal) and value.is_finite():
                    setattr(instance, field.attname, value.quantize(Decimal(1).scaleb(-field.decimal_places)))
