"""The hours no campaign message goes out in (21:00 to 08:00, say), as a pure rule."""

from __future__ import annotations

import datetime as dt


def quiet_until(now: dt.datetime, hours: tuple[dt.time, dt.time] | None) -> dt.datetime | None:
    """When the quiet hours around ``now`` (aware, local) end, or None if ``now`` is not in them. The hours
    may run past midnight (21:00-08:00)."""
    if hours is None:
        return None
    start, end = hours
    if start == end:
        return None
    clock = now.timetz().replace(tzinfo=None)
    day = now.date()

    def at(day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=now.tzinfo)

    if start < end:  # within one day
        return at(day, end) if start <= clock < end else None
    if clock >= start:  # the evening part: quiet until tomorrow's end
        return at(day + dt.timedelta(days=1), end)
    if clock < end:  # the morning part
        return at(day, end)
    return None
