"""How long an opportunity stayed in a stage, in words: days and hours, or minutes when it was brief."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def timedelta_text(value: dt.timedelta | None) -> str:
    if not isinstance(value, dt.timedelta):
        return ""
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
        if hours and days < 10:
            # Both parts are translated words; a space joins them in either language ("3 天 4 小时").
            text = f"{text} {ngettext('%(n)s hour', '%(n)s hours', hours) % {'n': hours}}"
        return text
    if hours:
        return ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
    return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
