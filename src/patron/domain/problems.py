"""Problems with a definition a user wrote, each naming the field it is about.

Classifications, discount rules and (later) rebate programs and coupon campaigns are
JSON-able definitions parsed into typed values; a parser collects *every* problem it
finds, then raises them together, so a form can show each beside its field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """``path`` names the field (``"thresholds[1]"``, ``"benefit.tiers[0].from"``; ``""``: the whole)."""

    path: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


class DefinitionError(ValueError):
    """Every problem of a definition; ``problems`` is never empty."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.path or '(definition)'}: {p.code} {p.params or ''}".strip() for p in problems))


class Problems:
    """A collector: ``add`` as the parser goes, ``raise_if_any`` at the end."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str, code: str, **params: Any) -> None:
        self.items.append(Problem(path, code, params))

    def raise_if_any(self) -> None:
        if self.items:
            raise DefinitionError(self.items)


def join_path(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


class Reader:
    """Reads the typed values of a definition's fields, collecting a ``Problem`` for each bad one.
    JSON floats are refused for money, as everywhere in Patron: "0.1" is exact, 0.1 is not."""

    def __init__(self, *, places: int = 2) -> None:
        self.problems = Problems()
        self.places = places  # decimals a number may carry

    def add(self, path: str, code: str, **params: Any) -> None:
        self.problems.add(path, code, **params)

    def obj(self, data: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            self.add(path, "wrong_type", expected="object")
            return {}
        for name in sorted(set(data) - allowed, key=str):
            self.add(join_path(path, str(name)), "unknown_field")
        return data

    def number(
        self,
        data: Mapping[str, Any],
        name: str,
        path: str,
        *,
        required: bool = False,
        positive: bool = False,
        places: int | None = None,
        high: Decimal | None = None,
    ) -> Decimal | None:
        where = join_path(path, name)
        value = data.get(name)
        if value is None or value == "":
            if required:
                self.add(where, "required")
            return None
        if isinstance(value, (bool, float)) or not isinstance(value, int | str | Decimal):
            self.add(where, "wrong_type", expected="number")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.add(where, "wrong_type", expected="number")
            return None
        if not number.is_finite():
            self.add(where, "wrong_type", expected="number")
            return None
        exponent = number.as_tuple().exponent
        places = self.places if places is None else places
        if isinstance(exponent, int) and -exponent > places:
            self.add(where, "out_of_range", places=places)
            return None
        if positive and number <= 0:
            self.add(where, "not_positive")
            return None
        if number < 0:
            self.add(where, "out_of_range", min="0", max=str(high) if high is not None else None)
            return None
        if high is not None and number > high:
            self.add(where, "out_of_range", min="0", max=str(high))
            return None
        if number.adjusted() >= 13:
            self.add(where, "out_of_range", min="0", max="9999999999999")
            return None
        return number

    def integer(self, data: Mapping[str, Any], name: str, path: str, *, low: int, high: int, default: int) -> int:
        where = join_path(path, name)
        value = data.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            else:
                self.add(where, "wrong_type", expected="integer")
                return default
        if not low <= value <= high:
            self.add(where, "out_of_range", min=low, max=high)
            return default
        return value

    def flag(self, data: Mapping[str, Any], name: str, path: str) -> bool:
        value = data.get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.add(join_path(path, name), "wrong_type", expected="boolean")
            return False
        return value

    def ids(self, data: Mapping[str, Any], name: str, path: str) -> frozenset[int]:
        where = join_path(path, name)
        value = data.get(name)
        if value is None:
            return frozenset()
        if not isinstance(value, list | tuple):
            self.add(where, "wrong_type", expected="list")
            return frozenset()
        seen: set[int] = set()
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
                self.add(join_path(where, i), "wrong_type", expected="id")
            elif item in seen:
                self.add(join_path(where, i), "duplicate")
            else:
                seen.add(item)
        return frozenset(seen)

    def texts(
        self, data: Mapping[str, Any], name: str, path: str, *, allowed: tuple[str, ...] | None = None
    ) -> frozenset[str]:
        where = join_path(path, name)
        value = data.get(name)
        if value is None:
            return frozenset()
        if not isinstance(value, list | tuple):
            self.add(where, "wrong_type", expected="list")
            return frozenset()
        seen: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.add(join_path(where, i), "wrong_type", expected="text")
            elif allowed is not None and item not in allowed:
                self.add(join_path(where, i), "invalid_choice", allowed=list(allowed))
            elif item in seen:
                self.add(join_path(where, i), "duplicate")
            else:
                seen.add(item)
        return frozenset(seen)

    def moment(self, data: Mapping[str, Any], name: str, path: str) -> dt.datetime | None:
        where = join_path(path, name)
        value = data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                self.add(where, "wrong_type", expected="datetime")
                return None
        else:
            self.add(where, "wrong_type", expected="datetime")
            return None
        if moment.tzinfo is None:
            # A naive time means a different moment on every server: refuse it.
            self.add(where, "wrong_type", expected="datetime_with_zone")
            return None
        return moment

    def clock(self, value: Any, where: str) -> dt.time | None:
        if not isinstance(value, str):
            self.add(where, "wrong_type", expected="time")
            return None
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            self.add(where, "wrong_type", expected="time")
            return None
