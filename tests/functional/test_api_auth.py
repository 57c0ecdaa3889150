"""Who may call the API: bearer tokens from ``patron token``, signed-in sessions with CSRF, nobody else."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from patron.staff.models import ApiToken
from tests.api_client import ApiClient
from tests.factories import make_account


def _create_token(username: str, name: str = "") -> str:
    out, err = StringIO(), StringIO()
    args = ["token", "create", "--user", username] + (["--name", name] if name else [])
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_a_token_from_the_command_line_authenticates_its_user(staff):
    raw = _create_token("sales", "laptop")
    assert raw.startswith("pat_")
    token = ApiToken.objects.get(prefix=raw[:12])
    assert (token.user, token.name) == (staff.sales, "laptop")
    response = ApiClient(token=raw).get("/api/me")
    assert response.status_code == 200
    assert response.json()["username"] == "sales"


def test_revoked_tokens_and_inactive_users_are_refused(staff):
    raw = _create_token("sales")
    client = ApiClient(token=raw)
    assert client.get("/api/me").status_code == 200
    out = StringIO()
    call_command("token", "revoke", raw[:12], stdout=out)
    assert "Revoked 1 token" in out.getvalue()
    assert client.get("/api/me").status_code == 401

    other = ApiClient(token=_create_token("sales2"))
    staff.sales2.is_active = False
    staff.sales2.save()
    assert other.get("/api/me").status_code == 401


def test_token_command_refuses_unknown_users_and_prefixes(staff):
    with pytest.raises(CommandError):
        _create_token("nobody")
    with pytest.raises(CommandError):
        call_command("token", "revoke", "pat_nothing-here", stdout=StringIO())


def test_token_list_shows_prefixes_not_secrets(staff):
    raw = _create_token("finance", "erp")
    out = StringIO()
    call_command("token", "list", stdout=out)
    assert raw[:12] in out.getvalue()
    assert raw not in out.getvalue()


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer wrong", "Basic c2FsZXM6cHc=", "Bearer pat_" + "x" * 500, "Token abc"],
)
def test_without_a_valid_token_every_endpoint_answers_401(staff, header):
    account = make_account(staff.sales)
    client = Client()
    headers = {"Authorization": header} if header is not None else {}
    for path in ("/api/me", "/api/accounts", f"/api/accounts/{account.code}", "/api/orders", "/api/invoices"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")
    response = client.post("/api/accounts", {"code": "X1", "name": "X"}, content_type="application/json")
    assert response.status_code == 401


def test_last_used_is_written_at_most_once_a_minute(staff):
    token, raw = ApiToken.issue(staff.sales, "t")
    client = ApiClient(token=raw)
    client.get("/api/me")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get("/api/me")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    client.get("/api/me")
    token.refresh_from_db()
    assert token.last_used_at > first - dt.timedelta(seconds=1)
    assert token.last_used_at <= timezone.now()


def test_a_signed_in_session_may_call_the_api_but_writes_need_the_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff.sales)
    assert client.get("/api/me").json()["username"] == "sales"
    body = {"code": "SESS-1", "name": "From a page"}
    refused = client.post("/api/accounts", body, content_type="application/json")
    assert refused.status_code == 403
    client.get("/api/me")  # any page would set the CSRF cookie; set it explicitly here
    from django.middleware.csrf import _get_new_csrf_string

    csrf = _get_new_csrf_string()
    client.cookies["csrftoken"] = csrf
    accepted = client.post("/api/accounts", body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 201, accepted.json()


def test_a_bearer_token_needs_no_csrf_token(staff):
    client = ApiClient(staff.sales)
    client.client = Client(enforce_csrf_checks=True)
    response = client.post("/api/accounts", {"code": "TOK-1", "name": "From a script"})
    assert response.status_code == 201


def test_schema_and_docs_are_served(staff):
    client = Client()
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    doc = schema.json()
    assert {"TokenAuth", "SessionAuth"} <= set(doc["components"]["securitySchemes"])
    assert doc["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    assert client.get("/api/docs").status_code == 200


def test_every_operation_declares_its_error_responses(staff):
    doc = Client().get("/api/openapi.json").json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            has_input = operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", []))
            if has_input:
                assert "422" in codes, (method, path)


def test_a_remembered_token_is_refused_once_its_time_is_up_after_revocation(staff, settings, monkeypatch):
    from patron.api import auth

    settings.PATRON_TOKEN_CACHE_SECONDS = 5
    auth.forget_tokens()
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    raw = _create_token("sales")
    client = ApiClient(token=raw)
    assert client.get("/api/me").status_code == 200
    ApiToken.objects.filter(prefix=raw[:12]).update(revoked_at=timezone.now())
    assert client.get("/api/me").status_code == 200  # remembered by this process for up to 5 s
    clock[0] += 5.1
    assert client.get("/api/me").status_code == 401
    auth.forget_tokens()
