"""Problems with a definition a user wrote, each naming the field it is about.

Classifications, discount rules and (later) rebate programs and coupon campaigns are
JSON-able definitions parsed into typed values; a parser collects *every* problem it
finds, then raises them together, so a form can show each beside its field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
