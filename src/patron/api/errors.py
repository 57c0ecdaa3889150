"""Turn what services and selectors raise into HTTP answers with a body that names the field.

Every 422 has the framework's own shape, ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``,
whether pydantic refused the input or a service did, so a client handles one format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from patron.accounts.selectors import FilterError
from patron.core.errors import Conflict, error_dict
from patron.core.pagination import BadCursor

if TYPE_CHECKING:
    from ninja import NinjaAPI

# Body schemas are always declared as a parameter of this name; its name is left out of error locations.
BODY_PARAM = "payload"


class MalformedBody(ValueError):
    """The request body is not JSON, or holds text that cannot be stored."""


def _storable(text: str) -> bool:
    """No NUL characters (PostgreSQL refuses them) and no unpaired surrogates (not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        if not _storable(value):
            raise MalformedBody("text with a NUL character or an unpaired surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


class JSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError) as exc:
            raise MalformedBody(str(exc)) from exc
        try:
            _check_text(data)
        except RecursionError as exc:
            raise MalformedBody("nested too deeply") from exc
        return data

    def parse_querydict(self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest) -> Any:
        for key, values in data.lists():
            if not _storable(key) or not all(_storable(str(v)) for v in values):
                msg = _("Text may not contain NUL characters.")
                raise NinjaValidationError([{"loc": ["query", key], "msg": msg, "type": "value_error"}])
        return super().parse_querydict(data, list_fields, request)


def field_loc(source: str, field: str) -> list[str | int]:
    """ "lines.2.quantity" -> [source, "lines", 2, "quantity"]; "__all__" -> [source]."""
    if field in ("__all__", ""):
        return [source]
    return [source, *(int(part) if part.isdigit() else part for part in field.split("."))]


def _invalid(api: NinjaAPI, request: HttpRequest, errors: list[dict[str, Any]]) -> HttpResponse:
    return api.create_response(request, {"detail": errors}, status=422)


def _message(api: NinjaAPI, request: HttpRequest, status: int, detail: str, field: str | None = None) -> HttpResponse:
    body: dict[str, Any] = {"detail": detail}
    if field is not None:
        body["field"] = field
    return api.create_response(request, body, status=status)


def register(api: NinjaAPI) -> None:
    """Install the handlers on ``api``; more specific exception classes win."""

    def service_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        errors = [
            {"loc": field_loc("body", field), "msg": msg, "type": "value_error"}
            for field, messages in error_dict(exc).items()
            for msg in messages
        ]
        return _invalid(api, request, errors)

    def input_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = []
        for error in exc.errors:
            loc = list(error.get("loc", ()))
            if len(loc) > 1 and loc[0] == "body" and loc[1] == BODY_PARAM:
                del loc[1]
            errors.append({**error, "loc": loc})
        return _invalid(api, request, errors)

    def filter_invalid(request: HttpRequest, exc: FilterError) -> HttpResponse:
        return _invalid(api, request, [{"loc": ["query", exc.field], "msg": str(exc), "type": "value_error"}])

    def cursor_invalid(request: HttpRequest, exc: BadCursor) -> HttpResponse:
        msg = _("This cursor is not valid; start again from the first page.")
        return _invalid(api, request, [{"loc": ["query", "cursor"], "msg": msg, "type": "value_error"}])

    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return _message(api, request, 403, _("You are not allowed to do this."))

    def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return _message(api, request, 404, _("Not found."))

    def conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
        return _message(api, request, 409, exc.message, exc.field)

    def integrity(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        # A uniqueness race the services' checks could not see (two requests at once).
        return _message(api, request, 409, _("This conflicts with a record saved at the same moment; try again."))

    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = _message(api, request, 401, _("Sign in, or send an API token as 'Authorization: Bearer <token>'."))
        response["WWW-Authenticate"] = 'Bearer realm="patron"'
        return response

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, MalformedBody):
            if isinstance(exc.__cause__.__cause__, ValueError | RecursionError):
                error = {"loc": ["body"], "msg": _("The request body is not valid JSON."), "type": "json_invalid"}
            else:
                msg = _("Text may not contain NUL characters or unpaired surrogates.")
                error = {"loc": ["body"], "msg": msg, "type": "value_error"}
            return _invalid(api, request, [error])
        return _message(api, request, exc.status_code, str(exc))

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (DjangoValidationError, service_invalid),
        (NinjaValidationError, input_invalid),
        (FilterError, filter_invalid),
        (BadCursor, cursor_invalid),
        (PermissionDenied, forbidden),
        (ObjectDoesNotExist, not_found),
        (Http404, not_found),
        (Conflict, conflict),
        (IntegrityError, integrity),
        (AuthenticationError, unauthenticated),
        (HttpError, http_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
