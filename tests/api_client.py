"""A small client for tests of the API: Django's test client with a bearer token and JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from patron.staff.models import ApiToken, User


class ApiClient:
    """Calls ``/api/...`` as ``user`` through a real token, the way an integration would."""

    def __init__(self, user: User | None = None, *, token: str | None = None) -> None:
        self.client = Client()
        self.user = user
        if token is None and user is not None:
            token = ApiToken.issue(user, "tests")[1]
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        result = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return result | (headers or {})

    def get(self, path: str, params: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def _send(self, method: str, path: str, data: Any, headers: dict[str, str] | None, raw: bool) -> Any:
        body = data if raw else json.dumps(data)
        send = getattr(self.client, method)
        return send(path, body, content_type="application/json", headers=self._headers(headers))

    def post(self, path: str, data: Any = None, *, headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        return self._send("post", path, {} if data is None else data, headers, raw)

    def patch(self, path: str, data: Any = None, *, headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        return self._send("patch", path, {} if data is None else data, headers, raw)

    def delete(self, path: str, *, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(headers))


def error_fields(response: Any) -> set[str]:
    """The fields a 422 names, as dotted paths without the "body"/"query" prefix: {"lines.0.quantity"}."""
    return {".".join(str(part) for part in item["loc"][1:]) for item in response.json()["detail"]}


def as_user(user: User, language: str = "en") -> Client:
    """A browser-less client signed in as ``user``, who reads Patron in ``language``."""
    user.language = language
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client
