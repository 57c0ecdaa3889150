"""Fixtures for the browser tests: Debian's Chromium, headless, driven by Playwright against a live server."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import pytest

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


@pytest.fixture
def server_errors(page: Any) -> list[str]:
    """Every response of 500 or more the browser saw (customers' pages too); a test asserts it stays empty."""
    seen: list[str] = []
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    return seen


def field_error(scope: Any, name: str) -> Any:
    """The error shown under a form's field (``_field.html`` marks each field's wrapper with ``data-field``)."""
    return scope.locator(f'[data-field="{name}"] .error')
