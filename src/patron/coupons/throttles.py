"""Limits on how often coupon codes may be tried, so nobody finds a code by guessing.

Each try counts three times: for the user, for the API token used (a till's), and for the
address it came from; any one over its rate refuses with 429 until its minute has passed.
The counts live in a cache shared by every process of this machine (files under the var
directory), not in one process's memory: one counter per key and calendar minute. The address is
the connection's own unless ``PATRON_NUM_PROXIES`` says how many proxies in front of Patron add to
``X-Forwarded-For`` (otherwise a guesser could name a new address on every try).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.throttling import SimpleRateThrottle

SCOPE = "coupon_checks"


class _Throttle(SimpleRateThrottle):
    scope = SCOPE
    cache = caches["throttle"]
    kind = ""
    share = 1  # times the setting's rate

    def __init__(self) -> None:
        super().__init__(self._rate())

    def _rate(self) -> str:
        return f"{int(settings.PATRON_COUPON_CHECKS_PER_MINUTE) * self.share}/m"

    def allow_request(self, request: HttpRequest) -> bool:
        """One counter per key and minute (not a list of every try's time, whose cost grows with the rate):
        at most the rate in each calendar minute."""
        self.rate = self._rate()  # read each time: the setting may change while the process runs
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request)
        if key is None or self.num_requests is None or self.duration is None:
            return True
        self.now = time.time()
        window = int(self.now // self.duration)
        counter = f"{key}:{window}"
        self.cache.add(counter, 0, timeout=self.duration * 2)
        try:
            count = self.cache.incr(counter)
        except ValueError:  # expired between the two calls: this try opens the window
            self.cache.set(counter, 1, timeout=self.duration * 2)
            count = 1
        self.window_end = (window + 1) * self.duration
        return bool(count <= self.num_requests)

    def wait(self) -> float | None:
        return max(getattr(self, "window_end", 0) - time.time(), 0.0)

    def ident_of(self, request: HttpRequest) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: HttpRequest) -> str | None:
        ident = self.ident_of(request)
        return None if ident is None else self.cache_format % {"scope": f"{SCOPE}_{self.kind}", "ident": ident}


class PerUser(_Throttle):
    kind = "user"

    def ident_of(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None


class PerToken(_Throttle):
    kind = "token"

    def ident_of(self, request: HttpRequest) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        return hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]


class PerAddress(_Throttle):
    kind = "address"
    share = 2  # a shop's till and its staff may share one address

    def ident_of(self, request: HttpRequest) -> str | None:
        return self.get_ident(request)


def throttles() -> list[Any]:
    return [PerUser(), PerToken(), PerAddress()]


def check_rate(request: HttpRequest) -> None:
    """For a route that tries codes only sometimes (an order with coupons): raise 429 when over."""
    for throttle in throttles():
        if not throttle.allow_request(request):
            raise Throttled(wait=throttle.wait())
