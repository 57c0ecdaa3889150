"""Who must hear, inside the same transaction, when recorded documents change an account's volume.

Rebates keep each account's accrual current as orders are confirmed or cancelled and goods
returned. Sales calls these listeners from its services; it knows nothing of rebates, and a
listener that fails fails the whole write, so volume and accrual never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentsChanged:
    kind: str  # "order_confirmed" | "order_cancelled" | "return_recorded" | "invoices_changed"
    order_id: int
    account_id: int
    order_date: dt.date  # a return counts in its order's period
    return_id: int | None = None


Listener = Callable[[DocumentsChanged], None]
_LISTENERS: list[Listener] = []


def on_documents_changed(listener: Listener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def documents_changed(event: DocumentsChanged) -> None:
    for listener in _LISTENERS:
        listener(event)
