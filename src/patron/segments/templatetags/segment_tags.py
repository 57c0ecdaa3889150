"""Filters of the segment pages."""

from __future__ import annotations

from django import template

from patron.web.charts import palette as chart_palette

register = template.Library()


@register.filter
def palette(index: int) -> str:
    """The chart colour of series or segment ``index``."""
    return chart_palette(int(index))
