"""Let the flush that ends each transactional test (live server, threads) empty the audit trail.

The audit trail is append-only in the database itself (triggers refuse DELETE and
TRUNCATE); only the test database's flush between tests lifts them, for that flush.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db.backends.base.operations import BaseDatabaseOperations

_append_only = importlib.import_module("patron.audit.migrations.0003_append_only")


def _trigger_name(sql: str) -> str:
    match = re.search(r"TRIGGER\s+(\w+)", sql)
    assert match, sql
    return match.group(1)


@contextmanager
def _audit_triggers_lifted(connection: Any) -> Iterator[None]:
    """The audit trail refuses DELETE and TRUNCATE; a test database's flush between tests may empty it.

    Only the triggers present are lifted and put back, so this nests with another such patch.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'")
        present = {name for (name,) in cursor.fetchall()}
        for sql in _append_only.SQLITE_REVERSE:
            if _trigger_name(sql) in present:
                cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for sql in _append_only.SQLITE:
                if _trigger_name(sql) in present:
                    cursor.execute(sql)


@pytest.fixture(scope="session", autouse=True)
def flushable_audit_trail() -> Iterator[None]:
    """Let the flush that ends each live-server (transactional) test empty the audit trail too."""
    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        if not any("audit_auditevent" in sql for sql in sql_list):
            return original(self, sql_list)
        with _audit_triggers_lifted(self.connection):
            return original(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]
