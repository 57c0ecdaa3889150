"""The real background worker (``patron run_huey``, the project's huey instance) on a clock a test sets.

Run as ``python -m tests.worker_clock`` with ``PATRON_TEST_CLOCK`` naming a file that holds an ISO time with its
offset ("2026-12-08T00:05:00+08:00"). The process starts at that time and its clock runs on from there at the
normal pace (time-machine: ``time.time``, ``datetime.now`` and so ``timezone.now``, in every thread; not
``time.monotonic``, which paces the mail and times the leases' renewals as it should). When the test writes
another time to the file, the clock jumps there.

Only one thing of huey's is changed: its scheduler looks for periodic tasks every second instead of every
minute, and, as cron would, once per minute of this clock (the first look in a minute it has not looked in
yet). So a test that moves the clock to 00:05 sees the jobs of minute 5 run once, within a second, and a
worker started (or restarted) at a time runs that minute's jobs at once, as huey does at its start.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any


def read_clock(path: Path) -> dt.datetime:
    moment = dt.datetime.fromisoformat(path.read_text().strip())
    if moment.tzinfo is None:
        raise ValueError(f"{path}: give the time with its offset")
    return moment


def set_clock(path: Path, moment: dt.datetime) -> None:
    """What the test calls: written whole (a rename), so the worker never reads half a time."""
    partial = path.with_suffix(".partial")
    partial.write_text(moment.isoformat())
    os.replace(partial, path)


def main() -> None:
    import time_machine

    path = Path(os.environ["PATRON_TEST_CLOCK"])
    wanted = read_clock(path)
    traveller = time_machine.travel(wanted, tick=True).start()

    from huey.consumer import Scheduler

    state: dict[str, Any] = {"wanted": wanted, "minute": None}
    enqueue_periodic_tasks = Scheduler.enqueue_periodic_tasks

    def once_a_minute(self: Scheduler, now: Any) -> None:
        moment = read_clock(path)
        if moment != state["wanted"]:
            traveller.move_to(moment)
            state["wanted"] = moment
        minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        if minute == state["minute"]:
            return
        state["minute"] = minute
        enqueue_periodic_tasks(self, None)  # None: huey reads the (moved) clock

    Scheduler.periodic_task_seconds = 1
    Scheduler.enqueue_periodic_tasks = once_a_minute  # type: ignore[method-assign]

    from patron.cli import main as patron

    patron(["run_huey", *sys.argv[1:]])


if __name__ == "__main__":
    main()
