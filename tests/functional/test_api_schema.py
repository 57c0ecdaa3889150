"""Fuzz the API from its own OpenAPI schema: no 5xx, and every answer is one the schema declares."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from patron.accounts.models import CustomField
from patron.sales import services as sales
from patron.staff.models import ApiToken
from tests.factories import make_account, make_industry, make_invoice, make_order, make_product, make_region_tree

EXAMPLES_PER_OPERATION = 12
# FUZZ_RANDOM=1 draws new examples on each run (to hunt for bugs); by default the run is repeatable.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app() -> Iterator[object]:
    """Django's WSGI app inside the test transaction: like the test client, keep the connection open."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def some_records(staff) -> None:
    regions = make_region_tree()
    make_industry()
    CustomField.objects.create(key="size", label_zh="规模", kind="number")
    CustomField.objects.create(key="tier", label_zh="等级", kind="choice", choices=["a", "b"])
    for i, owner in enumerate([staff.sales, staff.sales2, staff.sales3, staff.admin]):
        account = make_account(owner, region=regions["SZ"] if i % 2 else None, custom={"size": str(i * 10)})
        order = make_order(staff.admin, account, [(make_product(price="12.50"), "3")])
        make_invoice(staff.admin, order)
        sales.payment_record(actor=staff.admin, account=account, amount="10.00")
        account.contacts.create(name=f"Contact {i}")


def _fuzzed(method: str, path: str) -> bool:
    return method == "GET" or (method == "POST" and path == "/api/accounts")


@pytest.mark.slow
def test_fuzzed_requests_never_fail_and_match_the_schema(staff, some_records, wsgi_app):
    raw = ApiToken.issue(staff.admin, "schemathesis")[1]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if _fuzzed(op.method.upper(), op.path)]
    assert len(fuzzed) >= 15, [op.label for op in fuzzed]
    headers = {"Authorization": f"Bearer {raw}"}
    for operation in fuzzed:
        _fuzz(operation, GenerationMode.POSITIVE, headers, CHECKS)
        _fuzz(operation, GenerationMode.NEGATIVE, headers, [*CHECKS, negative_data_rejection])


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], checks: list[Any]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=os.environ.get("FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()
