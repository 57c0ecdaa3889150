"""Insert many rows of a model with a few multi-row INSERTs, as the ORM would store them.

``bulk_create`` builds a model instance and prepares every field of every row (about
80 µs a row); an import of 100,000 order lines spends most of its time there. Here the
values are given as tuples in the model's own column order and only the columns that
need the backend's conversion (dates, times, decimals, JSON) are converted, with the
backend's own adapters, so what is stored is what ``bulk_create`` would store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from django.conf import settings
from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations


def adapter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """The backend's conversion for a column on insert; None when the driver takes the value as it is."""
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        if connection.vendor == "sqlite" and settings.USE_TZ:
            # What SQLite's adapt_datetimefield_value does, without its checks (a third of the time).
            zone = connection.timezone
            return lambda v: str(v.astimezone(zone).replace(tzinfo=None))
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        if type(ops).adapt_decimalfield_value is BaseDatabaseOperations.adapt_decimalfield_value:
            return None
        digits, places = field.max_digits, field.decimal_places
        return lambda v: ops.adapt_decimalfield_value(v, digits, places)
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda v: ops.adapt_json_value(v, encoder)
    return None


# Below SQLite's limit of 32,766 parameters per statement (PostgreSQL allows 65,535).
MAX_PARAMS = 30000


class BulkInsert:
    """One INSERT for ``model`` with the given columns (attnames); the others get their defaults."""

    def __init__(self, model: type[models.Model], columns: Sequence[str], *, raw: Sequence[str] = ()) -> None:
        """``raw`` columns arrive already in the database's form (e.g. JSON text encoded by polars)."""
        meta = model._meta
        given = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in columns]
        names = {getattr(f, "attname", None) for f in given}
        missing = [f for f in meta.concrete_fields if f.attname not in names and not f.primary_key]
        self.defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in missing)
        fields: list[Any] = [*given, *missing]
        quote = connection.ops.quote_name
        # Table and column names come from the model; values travel as parameters.
        names_sql = ", ".join(quote(f.column) for f in fields)
        self.copy_sql = f"COPY {quote(meta.db_table)} ({names_sql}) FROM STDIN"
        self.head = f"INSERT INTO {quote(meta.db_table)} ({names_sql}) VALUES "  # noqa: S608
        self.row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        # Many rows per statement: one round trip per batch instead of one per row on PostgreSQL.
        self.batch = max(1, MAX_PARAMS // len(fields))
        self.adapters = [(i, fn) for i, f in enumerate(given) if f.name not in raw and (fn := adapter(f)) is not None]

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        out = []
        for row in rows:
            values = list(row)
            for i, fn in self.adapters:
                if values[i] is not None:
                    values[i] = fn(values[i])
            out.append((*values, *self.defaults))
        return out

    def insert(self, rows: Sequence[Sequence[Any]]) -> int:
        if connection.vendor == "postgresql":
            # COPY: PostgreSQL's bulk path, several times the speed of INSERT for thousands of rows.
            with connection.cursor() as cursor, cursor.cursor.copy(self.copy_sql) as copy:
                for start in range(0, len(rows), self.batch):
                    for row in self.rows(rows[start : start + self.batch]):
                        copy.write_row(row)
            return len(rows)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), self.batch):
                prepared = self.rows(rows[start : start + self.batch])
                sql = self.head + ", ".join([self.row_sql] * len(prepared))
                cursor.execute(sql, [value for row in prepared for value in row])
        return len(rows)
