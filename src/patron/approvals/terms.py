"""Terms as stored and fingerprinted: plain JSON in one canonical form, and its sha256.

An approval applies to exactly the terms the approver saw. Terms are turned into plain
JSON values (``Decimal`` and money as text, dates as ISO text), written with sorted keys and
no spaces, and hashed; the same terms always give the same fingerprint, whatever the order
their keys were built in. Floats are refused: amounts are exact text (``"12.50"``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from patron.domain.money import Money


class TermsError(ValueError):
    """The terms hold something that is not plain data; ``path`` says where ("lines.2.price")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def plain(value: Any, path: str = "terms") -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise TermsError(path, "a float; send amounts and rates as text or Decimal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TermsError(path, "not a finite number")
        return format(value, "f")
    if isinstance(value, Money):
        return {"amount": format(value.amount, "f"), "currency": value.currency}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TermsError(path, "keys must be text")
            result[key] = plain(item, f"{path}.{key}")
        return result
    if isinstance(value, list | tuple):
        return [plain(item, f"{path}.{n}") for n, item in enumerate(value)]
    raise TermsError(path, f"{type(value).__name__} is not plain data")


def canonical(terms: Any) -> tuple[dict[str, Any], str]:
    """(the terms as plain JSON values, their canonical text)."""
    if not isinstance(terms, dict):
        raise TermsError("terms", "must be an object")
    values = plain(terms)
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return values, text


def terms_hash(terms: Any) -> str:
    """The sha256 (hex) of the canonical JSON of ``terms``."""
    return hashlib.sha256(canonical(terms)[1].encode("utf-8")).hexdigest()
