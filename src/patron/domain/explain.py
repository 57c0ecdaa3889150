"""Reasons: why an evaluation came out as it did, in data, translated at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Reason:
    """A machine-readable cause, e.g. ``Reason("MIN_SPEND_NOT_MET", {"missing": ...})``."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of asking a rule whether it holds, with every reason for the answer."""

    ok: bool
    reasons: tuple[Reason, ...] = ()

    @classmethod
    def yes(cls, *reasons: Reason) -> Outcome:
        return cls(True, tuple(reasons))

    @classmethod
    def no(cls, *reasons: Reason) -> Outcome:
        return cls(False, tuple(reasons))

    def __bool__(self) -> bool:
        return self.ok
