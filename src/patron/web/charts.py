"""A bar chart drawn on the server as inline SVG: no JavaScript, no library, readable by screen readers.

Only the geometry is computed here; ``web/_bar_chart.html`` draws it, so every
label passes through the template engine's escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    text: str  # the value as shown to the reader
    x: float
    y: float
    width: float
    height: float
    label_x: float
    negative: bool


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class BarChart:
    title: str
    desc: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    baseline: float
    plot_left: float
    plot_right: float
    label_y: float


def _nice_step(span: Decimal, steps: int = 4) -> Decimal:
    """A round step (1, 2 or 5 times a power of ten) that splits ``span`` into about ``steps`` parts."""
    if span <= 0:
        return Decimal(1)
    raw = span / steps
    magnitude = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, 5, 10):
        step = magnitude * factor
        if step >= raw:
            return step
    return magnitude * 10


def _short(value: Decimal) -> str:
    """Axis labels: 1,200,000 -> 1.2M, 35,000 -> 35k."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    for limit, suffix in ((Decimal(10) ** 9, "G"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if v >= limit:
            text = f"{v / limit:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{text}{suffix}"
    return f"{sign}{v:.0f}"


def bar_chart(
    points: list[tuple[str, Decimal, str]],
    *,
    title: str,
    desc: str,
    width: int = 720,
    height: int = 240,
) -> BarChart:
    """Bars for ``points`` = [(label, value, value as text)], scaled from zero to round ticks."""
    left, right, top, bottom = 56.0, 8.0, 12.0, 28.0
    plot_h = height - top - bottom
    plot_w = width - left - right
    values = [v for _, v, _ in points] or [Decimal(0)]
    high = max(max(values), Decimal(0))
    low = min(min(values), Decimal(0))
    step = _nice_step(high - low)
    top_value = (high / step).to_integral_value(rounding="ROUND_CEILING") * step if high > 0 else Decimal(0)
    bottom_value = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step if low < 0 else Decimal(0)
    if top_value == bottom_value:
        top_value = bottom_value + step
    span = top_value - bottom_value

    def y_of(value: Decimal) -> float:
        return top + float((top_value - value) / span) * plot_h

    baseline = y_of(Decimal(0))
    ticks = []
    tick = bottom_value
    while tick <= top_value:
        ticks.append(Tick(y=round(y_of(tick), 1), text=_short(tick)))
        tick += step
    slot = plot_w / max(len(points), 1)
    bar_w = slot * 0.7
    bars = []
    for i, (label, value, text) in enumerate(points):
        y_value = y_of(value)
        x = left + i * slot + (slot - bar_w) / 2
        bars.append(
            Bar(
                label=label,
                value=value,
                text=text,
                x=round(x, 1),
                y=round(min(y_value, baseline), 1),
                width=round(bar_w, 1),
                height=round(max(abs(baseline - y_value), 0.0), 1),
                label_x=round(x + bar_w / 2, 1),
                negative=value < 0,
            )
        )
    return BarChart(
        title=title,
        desc=desc,
        width=width,
        height=height,
        bars=bars,
        ticks=ticks,
        baseline=round(baseline, 1),
        plot_left=left,
        plot_right=width - right,
        label_y=height - 8,
    )
