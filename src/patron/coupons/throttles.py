"""Limits on how often coupon codes may be tried, so nobody finds a code by guessing.

Each try counts three times: for the user, for the API token used (a till's), and for the
address it came from; any one over its rate refuses with 429 until its minute has passed.
The counts are shared by every process of this machine (``patron.core.counters``, a file under
the var directory), not kept in one process's memory: one counter per key and calendar minute,
the three of a try counted in one transaction. The address is the connection's own unless
``PATRON_NUM_PROXIES`` says how many proxies in front of Patron add to ``X-Forwarded-For``
(otherwise a guesser could name a new address on every try).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.throttling import BaseThrottle

from patron.core.counters import WindowCounts

SCOPE = "coupon_checks"
MINUTE = 60
# A shop's till and its staff may share one address: it may try this many times the rate.
ADDRESS_SHARE = 2
COUNTS = WindowCounts(settings.VAR_DIR / "throttle.sqlite3")


class CouponTries(BaseThrottle):
    """The user's, the token's and the address's tries of this minute, counted at once."""

    def allow_request(self, request: HttpRequest) -> bool:
        rate = int(settings.PATRON_COUPON_CHECKS_PER_MINUTE)  # read each time: the setting may change
        limits = {}
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            limits[f"{SCOPE}:user:{user.pk}"] = rate
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            limits[f"{SCOPE}:token:{hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]}"] = rate
        address = self.get_ident(request)
        if address:
            limits[f"{SCOPE}:address:{address}"] = rate * ADDRESS_SHARE
        window = int(time.time() // MINUTE)
        self.window_end = (window + 1) * MINUTE
        counts = COUNTS.add(list(limits), window)
        return all(counts.get(key, 0) <= limit for key, limit in limits.items())

    def wait(self) -> float | None:
        return max(getattr(self, "window_end", 0) - time.time(), 0.0)


def throttles() -> list[Any]:
    return [CouponTries()]


def check_rate(request: HttpRequest) -> None:
    """For a route that tries codes only sometimes (an order with coupons): raise 429 when over."""
    throttle = CouponTries()
    if not throttle.allow_request(request):
        raise Throttled(wait=math.ceil(throttle.wait() or 0))


def clear() -> None:
    """Forget every count (tests, and an admin unblocking a till by hand)."""
    COUNTS.clear()
