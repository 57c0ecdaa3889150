"""``patron find_duplicates``: compare every account changed since last time, all at once.

Pages and the API do this a bounded number of accounts per request; after a bulk load
(the demo, an import, an upgrade) this catches up in one go.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from patron.accounts import duplicates
from patron.accounts.models import DuplicatePair


class Command(BaseCommand):
    help = "Find possible duplicate accounts among those changed since the last search (all of them the first time)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        worked_out = 0
        while True:
            result = duplicates.refresh(limit=10 * duplicates.CHUNK)
            worked_out += result.worked_out
            if result.worked_out and options["verbosity"] > 1:
                self.stdout.write(f"  {worked_out:,} accounts compared")
            if not result.more:
                break
        pairs = DuplicatePair.objects.count()
        seconds = time.perf_counter() - started
        self.stdout.write(f"{worked_out:,} accounts compared in {seconds:.1f} s; {pairs:,} possible duplicate pairs.")
