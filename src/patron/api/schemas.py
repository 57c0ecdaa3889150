"""Schemas every router shares: errors, references to other records, money as text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field


def _decimal_text(value: Any) -> Any:
    """Decimals leave the API as plain text ("1200.00"), never as floats or in exponent form."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


# An exact amount, quantity or price as text; clients send and receive strings, never floats.
Amount = Annotated[str, BeforeValidator(_decimal_text)]
# Amounts as clients send them: text such as "1200.50". Checked by the services.
AmountIn = Annotated[str, Field(max_length=40, examples=["1200.50"])]
# A calendar day as clients send it; bounded so date arithmetic (due dates, terms) cannot overflow.
Day = Annotated[dt.date, Field(ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31))]
# Record codes, numbers and SKUs as clients send them; checked by the services.
CodeIn = Annotated[str, Field(max_length=100)]


class ErrorOut(Schema):
    """401, 403, 404 and 409: what went wrong, and for a conflict the field it concerns."""

    detail: str
    field: str | None = None


class FieldErrorOut(Schema):
    """One invalid input: where (``loc``: "body" or "query", then the field path) and why."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    """422: every invalid field at once, in the same shape as the framework's own errors."""

    detail: list[FieldErrorOut]


class UserRef(Schema):
    username: str
    name: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return str(obj.display_name())


class CodeName(Schema):
    """A region, industry or category by its code and its name in the reader's language."""

    code: str
    name: str


class AccountRef(Schema):
    code: str
    name: str


ERROR_SCHEMAS: dict[int, type[Schema]] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ValidationErrorOut,
}


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """The success responses plus 401 and 403 (every endpoint) and the error ``codes`` given."""
    return ok | {code: ERROR_SCHEMAS[code] for code in sorted({401, 403, *codes})}


def file_response() -> dict[str, Any]:
    """The 200 answer of an endpoint that sends a CSV or XLSX file (``openapi_extra=file_response()``)."""
    return {
        "responses": {
            "200": {
                "description": "The file",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            }
        }
    }
