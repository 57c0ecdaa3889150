"""Who must hear, inside the same transaction, when recorded documents change an account's volume.

Rebates keep each account's accrual current as orders are confirmed or cancelled and goods
returned. Sales calls these listeners from its services; it knows nothing of rebates, and a
listener that fails fails the whole write, so volume and accrual never disagree. Coupons
given with an order are priced and redeemed through the coupon provider, the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class DocumentsChanged:
    # "order_confirmed" | "order_cancelled" | "draft_cancelled" | "return_recorded" | "invoices_changed"
    kind: str
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


class CouponHold(Protocol):
    """An order's coupons, read and locked in its transaction: ``rules`` to price them with the order,
    then ``redeem`` once the order is written (checks again and records each use on the order, or
    raises ``ValidationError`` keyed ``coupons[i]``)."""

    rules: list[Any]

    def redeem(self, *, order: Any, priced: Any, now: dt.datetime) -> None: ...


class CouponProvider(Protocol):
    """What an order asks of coupons (the coupons app answers, when installed).

    ``hold`` reads and locks what limits the codes given with an order, or refuses them
    (``ValidationError`` keyed ``coupons[i]``; ``order_id``: a draft whose lines change, not counted as
    an earlier order); ``release`` gives back the uses of a draft whose
    lines change and says which codes they were, so they are priced and redeemed again on the new lines."""

    def hold(
        self, *, account: Any, codes: Sequence[str], currency: str, now: dt.datetime, order_id: int | None = None
    ) -> CouponHold: ...

    def release(self, *, order: Any) -> list[str]: ...


_COUPONS: list[CouponProvider] = []


def set_coupon_provider(provider: CouponProvider) -> None:
    _COUPONS[:] = [provider]


def coupon_provider() -> CouponProvider | None:
    return _COUPONS[0] if _COUPONS else None
