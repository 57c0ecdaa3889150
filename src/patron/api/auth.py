"""Who is calling: a bearer token (scripts, integrations) or a signed-in session (Patron's own pages)."""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone, translation
from ninja.security import APIKeyCookie, HttpBearer

from patron.staff.models import ApiToken

# last_used_at is written at most this often per token, so reads do not turn into writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


# A found token is remembered by this process for PATRON_TOKEN_CACHE_SECONDS (default 5): an
# integration calling hundreds of times a second then costs no query per call for it. A token revoked,
# or a user deactivated, is refused by every process at the latest that long after.
_found: dict[str, tuple[float, ApiToken]] = {}
_FOUND_MAX = 10_000


def _find(token: str) -> ApiToken | None:
    ttl = float(getattr(settings, "PATRON_TOKEN_CACHE_SECONDS", 5))
    if ttl <= 0:
        return ApiToken.find(token)
    now = time.monotonic()
    held = _found.get(token)
    if held is not None and held[0] > now:
        return held[1]
    found = ApiToken.find(token)
    if found is None:
        _found.pop(token, None)
        return None
    if len(_found) >= _FOUND_MAX:
        _found.clear()
    _found[token] = (now + ttl, found)
    return found


def forget_tokens() -> None:
    _found.clear()


class TokenAuth(HttpBearer):
    """``Authorization: Bearer pat_...``, a token issued with ``patron token create``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        token = token.strip()
        if not token or len(token) > 200:
            return None
        found = _find(token)
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now  # the remembered copy too, or it would write on every call
        # A copy per request: the remembered user is shared by this process's threads.
        user = copy.copy(found.user)
        request.user = user
        # Like the pages, answer in the user's language unless the client asked for one.
        language = str(getattr(user, "language", "") or "")
        if language and "HTTP_ACCEPT_LANGUAGE" not in request.META:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return user


class SessionAuth(APIKeyCookie):
    """The signed-in user of Patron's pages; unsafe methods need the CSRF token as well."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # no session: answer 401, not a CSRF failure
        return super()._get_key(request)  # checks CSRF, 403 when it fails

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None:
            return None
        return request.user


def api_auth() -> list[Any]:
    return [TokenAuth(), SessionAuth()]
