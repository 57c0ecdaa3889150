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


# --- horizontal bars: one per category, with its label beside it ----------------------------------------------


@dataclass(frozen=True)
class HBar:
    label: str
    short: str  # the label as it fits beside the bar
    value: Decimal
    text: str
    y: float
    width: float
    text_x: float
    text_y: float
    href: str
    color: int


@dataclass(frozen=True)
class HBarChart:
    title: str
    desc: str
    width: int
    height: int
    bars: list[HBar]
    bar_height: float
    plot_left: float
    label_x: float


def _fit_label(label: str, room: float, font: float = 12.0) -> str:
    """``label`` cut with an ellipsis to about ``room`` pixels (CJK characters count double)."""
    widths = [font * (1.0 if ord(ch) > 0x2E80 else 0.56) for ch in label]
    if sum(widths) <= room:
        return label
    used, out = font * 0.6, ""
    for ch, w in zip(label, widths, strict=True):
        if used + w > room:
            break
        out += ch
        used += w
    return out + "…"


def hbar_chart(
    points: list[tuple[str, Decimal, str]],
    *,
    title: str,
    desc: str,
    hrefs: list[str] | None = None,
    width: int = 640,
    row: int = 26,
    label_width: int = 170,
    value_room: int = 90,
) -> HBarChart:
    """A bar per (label, value, value as text), labels on the left: long names (class names) stay readable.

    Bars start at zero; negative values draw as empty bars. ``hrefs`` (one per point) make each bar a link.
    """
    top = 4.0
    plot_left = float(label_width)
    plot_w = max(width - plot_left - value_room, 10.0)
    high = max([v for _, v, _ in points] + [Decimal(0)])
    bar_h = row * 0.68
    bars = []
    for i, (label, value, text) in enumerate(points):
        length = float(value / high) * plot_w if high > 0 and value > 0 else 0.0
        y = top + i * row
        bars.append(
            HBar(
                label=label,
                short=_fit_label(label, plot_left - 12),
                value=value,
                text=text,
                y=round(y, 1),
                width=round(length, 1),
                text_x=round(plot_left + length + 6, 1),
                text_y=round(y + bar_h * 0.75, 1),
                href=(hrefs[i] if hrefs and i < len(hrefs) else ""),
                color=i,
            )
        )
    return HBarChart(
        title=title,
        desc=desc,
        width=width,
        height=int(top * 2 + row * max(len(points), 1)),
        bars=bars,
        bar_height=round(bar_h, 1),
        plot_left=plot_left,
        label_x=plot_left - 8,
    )


# --- lines: a few series over dates ----------------------------------------------------------------------------

# Colours told apart by most readers, also in grey; series beyond the list reuse it.
PALETTE = ("#1d5fa8", "#d9822b", "#2f9e6e", "#b83280", "#6b7280", "#8e6c1f", "#0f8b8d", "#c2410c", "#5b4bb7")


def palette(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class LinePoint:
    x: float
    y: float
    text: str  # "label: value" for the point's tooltip


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: list[LinePoint]
    path: str  # the polyline's "x,y x,y ..."


@dataclass(frozen=True)
class XTick:
    x: float
    text: str
    anchor: str = "middle"  # the first and last labels keep inside the chart


@dataclass(frozen=True)
class LineChart:
    title: str
    desc: str
    width: int
    height: int
    lines: list[Line]
    ticks: list[Tick]
    xticks: list[XTick]
    plot_left: float
    plot_right: float
    baseline: float
    label_y: float


def line_chart(
    labels: list[str],
    series: list[tuple[str, list[Decimal]]],
    *,
    title: str,
    desc: str,
    width: int = 720,
    height: int = 260,
    max_xticks: int = 8,
) -> LineChart:
    """A line per (name, values), the values in the order of ``labels`` (the x axis), from zero to a round top."""
    left, right, top, bottom = 56.0, 12.0, 12.0, 28.0
    plot_w = width - left - right
    plot_h = height - top - bottom
    high = max([v for _, values in series for v in values] + [Decimal(0)])
    step = _nice_step(high)
    top_value = (high / step).to_integral_value(rounding="ROUND_CEILING") * step if high > 0 else step

    def y_of(value: Decimal) -> float:
        return round(top + float((top_value - value) / top_value) * plot_h, 1)

    def x_of(i: int) -> float:
        if len(labels) < 2:
            return round(left + plot_w / 2, 1)
        return round(left + plot_w * i / (len(labels) - 1), 1)

    ticks = []
    tick = Decimal(0)
    while tick <= top_value:
        ticks.append(Tick(y=y_of(tick), text=_short(tick)))
        tick += step
    every = max(1, -(-len(labels) // max_xticks))
    last = len(labels) - 1
    xticks = [
        XTick(x_of(i), label, "start" if i == 0 and last else "end" if i == last and last else "middle")
        for i, label in enumerate(labels)
        if i % every == 0 or i == last
    ]
    lines = []
    for n, (name, values) in enumerate(series):
        points = [LinePoint(x_of(i), y_of(v), f"{labels[i]}: {v}") for i, v in enumerate(values[: len(labels)])]
        lines.append(Line(name, palette(n), points, " ".join(f"{p.x},{p.y}" for p in points)))
    return LineChart(
        title=title,
        desc=desc,
        width=width,
        height=height,
        lines=lines,
        ticks=ticks,
        xticks=xticks,
        plot_left=left,
        plot_right=width - right,
        baseline=y_of(Decimal(0)),
        label_y=height - 8,
    )


# --- grouped bars: a few series side by side per group ---------------------------------------------------------


@dataclass(frozen=True)
class GroupBar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class GroupLabel:
    x: float
    text: str


@dataclass(frozen=True)
class GroupedBars:
    title: str
    desc: str
    width: int
    height: int
    bars: list[GroupBar]
    labels: list[GroupLabel]
    ticks: list[Tick]
    series: list[tuple[str, str]]  # (name, colour) for the legend
    plot_left: float
    plot_right: float
    baseline: float
    label_y: float


def grouped_bars(
    groups: list[str], series: list[tuple[str, list[Decimal]]], *, title: str, desc: str, width: int = 860
) -> GroupedBars:
    """Bars side by side per group (one per series), from zero (negative values below it) to round ticks."""
    left, right, top, bottom = 60.0, 10.0, 12.0, 30.0
    height = 260
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _name, vs in series for v in vs] or [Decimal(0)]
    high, low = max(max(values), Decimal(0)), min(min(values), Decimal(0))
    step = _nice_step(high - low)
    top_value = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    bottom_value = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    if top_value == bottom_value:
        top_value = bottom_value + step
    span = top_value - bottom_value

    def y_of(value: Decimal) -> float:
        return top + float((top_value - value) / span) * plot_h

    baseline = y_of(Decimal(0))
    slot = plot_w / max(len(groups), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    bars, labels = [], []
    for g, group in enumerate(groups):
        x0 = left + g * slot + slot * 0.1
        labels.append(GroupLabel(round(left + g * slot + slot / 2, 1), group))
        for s, (name, vs) in enumerate(series):
            value = vs[g]
            y = y_of(value)
            bars.append(
                GroupBar(
                    x=round(x0 + s * bar_w, 1),
                    y=round(min(y, baseline), 1),
                    width=round(bar_w * 0.92, 1),
                    height=round(abs(baseline - y), 1),
                    color=palette(s),
                    title=f"{group} · {name}: {value:,.2f}",
                )
            )
    ticks = []
    tick = bottom_value
    while tick <= top_value:
        ticks.append(Tick(round(y_of(tick), 1), _short(tick)))
        tick += step
    return GroupedBars(
        title=title,
        desc=desc,
        width=width,
        height=height,
        bars=bars,
        labels=labels,
        ticks=ticks,
        series=[(name, palette(s)) for s, (name, _vs) in enumerate(series)],
        plot_left=left,
        plot_right=width - right,
        baseline=round(baseline, 1),
        label_y=height - 10,
    )
