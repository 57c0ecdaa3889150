"""Fixtures for the browser tests: Debian's Chromium, headless, driven by Playwright against a live server."""

from __future__ import annotations

import importlib
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db.backends.base.operations import BaseDatabaseOperations

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
def _flushable_audit_trail() -> Iterator[None]:
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


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Use the machine's Chromium (Playwright cannot download its own browser here)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def sign_in(live_server: Any, page: Any, transactional_db: None) -> Callable[..., Any]:
    """Sign ``username`` in through the sign-in page; returns the page, now on the dashboard.

    Users made by ``tests.factories.make_user`` have the password ``pw-<username>``.
    """

    def _sign_in(username: str, password: str | None = None) -> Any:
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password or f"pw-{username}")
        page.click("button[type=submit].primary")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return _sign_in
