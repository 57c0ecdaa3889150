"""What other apps tell the approvals app about their subjects.

An app that asks for approvals registers its subject type once, when it starts
(``AppConfig.ready``)::

    from patron.approvals import registry

    registry.register(
        "order_discount",
        label=_("Order discount"),
        describe=lambda request: registry.Subject(f"Order {number}", reverse(...)),
        on_decided=apply_or_drop_discount,   # called with the ApprovalRequest, in the deciding transaction
        term_labels={"unit_price": _("Unit price")},
    )

``on_decided(request)`` runs after an approve or a reject has been written, inside the same
transaction: if it raises, the decision is rolled back with it. ``request.status`` says which
("approved" or "rejected"). ``describe(request)`` gives the subject's words and link for the
pages and the emails; it must not raise (return a plain ``Subject`` if the record is gone).
An unregistered subject type still works: it is shown as "<type> #<id>" and nothing is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import ApprovalRequest


@dataclass(frozen=True)
class Subject:
    """The subject as a reader sees it: a short text and, if it has a page, its address."""

    label: str
    url: str | None = None
    summary: str = ""


@dataclass(frozen=True)
class Handler:
    subject_type: str
    label: Any = None  # the type's name, translated (a lazy string)
    describe: Callable[[ApprovalRequest], Subject] | None = None
    on_decided: Callable[[ApprovalRequest], None] | None = None
    term_labels: Mapping[str, Any] = field(default_factory=dict)
    # Many requests at once (a list page), in a fixed number of queries: request pk -> Subject.
    describe_many: Callable[[Sequence[ApprovalRequest]], Mapping[int, Subject]] | None = None


_HANDLERS: dict[str, Handler] = {}


def register(
    subject_type: str,
    *,
    label: Any = None,
    describe: Callable[[ApprovalRequest], Subject] | None = None,
    on_decided: Callable[[ApprovalRequest], None] | None = None,
    term_labels: Mapping[str, Any] | None = None,
    describe_many: Callable[[Sequence[ApprovalRequest]], Mapping[int, Subject]] | None = None,
) -> Handler:
    """Register (or replace) what the approvals app calls for ``subject_type``."""
    if not subject_type or len(subject_type) > 40:
        raise ValueError("subject_type: 1 to 40 characters")
    handler = Handler(subject_type, label, describe, on_decided, dict(term_labels or {}), describe_many)
    _HANDLERS[subject_type] = handler
    return handler


def unregister(subject_type: str) -> None:
    _HANDLERS.pop(subject_type, None)


@contextmanager
def replaced(subject_type: str, **handler: Any) -> Iterator[Handler]:
    """Another handler for a subject type for a while (tests), and the app's own back afterwards."""
    previous = _HANDLERS.get(subject_type)
    try:
        yield register(subject_type, **handler)
    finally:
        if previous is None:
            _HANDLERS.pop(subject_type, None)
        else:
            _HANDLERS[subject_type] = previous


def handler_for(subject_type: str) -> Handler | None:
    return _HANDLERS.get(subject_type)


def type_label(subject_type: str) -> str:
    handler = _HANDLERS.get(subject_type)
    return str(handler.label) if handler is not None and handler.label else subject_type


def describe(request: ApprovalRequest) -> Subject:
    handler = _HANDLERS.get(request.subject_type)
    if handler is not None and handler.describe is not None:
        return handler.describe(request)
    return Subject(f"{type_label(request.subject_type)} #{request.subject_id}")


def describe_all(requests: Sequence[ApprovalRequest]) -> dict[int, Subject]:
    """``describe`` for a page of requests: each type's ``describe_many`` when it has one."""
    out: dict[int, Subject] = {}
    by_type: dict[str, list[ApprovalRequest]] = {}
    for request in requests:
        by_type.setdefault(request.subject_type, []).append(request)
    for subject_type, group in by_type.items():
        handler = _HANDLERS.get(subject_type)
        if handler is not None and handler.describe_many is not None:
            out.update(handler.describe_many(group))
        else:
            out.update({r.pk: describe(r) for r in group})
    return out


def decided(request: ApprovalRequest) -> None:
    """Tell the subject's app about an approve or a reject (inside the deciding transaction)."""
    handler = _HANDLERS.get(request.subject_type)
    if handler is not None and handler.on_decided is not None:
        handler.on_decided(request)
