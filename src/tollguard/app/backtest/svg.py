"""Small inline-SVG plots for the backtest report: no external references, no dependencies.

Each function returns an ``<svg>`` element as a string, ready to embed in HTML (inline SVG in HTML
needs no namespace declaration, so the report holds no URL at all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Liberation Sans',sans-serif"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Series:
    """A named line: points of (time, value), drawn in ``color``."""

    name: str
    color: str
    points: Sequence[tuple[datetime, float]]


@dataclass(frozen=True, slots=True)
class Span:
    """A call on a timeline: ringing from ``start`` (light), talking from ``answer`` (dark)."""

    start: datetime
    answer: datetime | None
    end: datetime


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical mark on a timeline (a policy's first stopping action); legend only if no time."""

    time: datetime | None
    color: str
    label: str


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_step(span: float, target: int = 5) -> float:
    """A 1-2-5 step that cuts ``span`` into about ``target`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def short_money(value: float) -> str:
    """``¥1.2M``-style compact yen for axis labels."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"¥{value / 1e6:.3g}M"
    if magnitude >= 1e3:
        return f"¥{value / 1e3:.3g}k"
    return f"¥{value:.0f}"


def _time_ticks(lo: datetime, hi: datetime, target: int = 8) -> list[datetime]:
    span = (hi - lo).total_seconds()
    steps = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400]
    steps += [7 * 86400, 14 * 86400, 28 * 86400]
    step = next((s for s in steps if span / s <= target), steps[-1])
    # align to the step in the timestamps' own offset
    base = lo.replace(second=0, microsecond=0)
    if step >= 86400:
        base = base.replace(hour=0, minute=0)
    elif step >= 3600:
        base = base.replace(minute=0)
    offset = (base.hour * 3600 + base.minute * 60) % step if step < 86400 else 0
    tick = base - timedelta(seconds=offset)
    ticks: list[datetime] = []
    while tick <= hi:
        if tick >= lo:
            ticks.append(tick)
        tick += timedelta(seconds=step)
    return ticks


def _time_label(tick: datetime, span_s: float) -> str:
    if span_s > 2 * 86400:
        return (
            tick.strftime("%m-%d")
            if tick.hour == 0 and tick.minute == 0
            else tick.strftime("%m-%d %H:%M")
        )
    return (
        tick.strftime("%m-%d %H:%M")
        if tick.hour == 0 and tick.minute == 0
        else tick.strftime("%H:%M")
    )


def step_chart(
    series: Sequence[Series],
    start: datetime,
    end: datetime,
    *,
    width: int = 1150,
    height: int = 340,
    title: str = "",
    y_label: str = "",
) -> str:
    """Cumulative step lines over ``[start, end]``, with axes, grid and legend."""
    left, right, top, bottom = 78, 170, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    if end <= start:
        end = start + timedelta(hours=1)
    span_s = (end - start).total_seconds()
    y_max = max((v for s in series for _t, v in s.points), default=0.0)
    step = nice_step(y_max if y_max > 0 else 1.0)
    y_top = step * max(1, math.ceil(y_max / step)) if y_max > 0 else step * 5

    def x_of(moment: datetime) -> float:
        frac = (moment - start).total_seconds() / span_s
        return left + plot_w * min(1.0, max(0.0, frac))

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value / y_top)

    parts = [
        f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" style="{FONT}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    value = 0.0
    while value <= y_top + 1e-9:
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e7eb"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#374151">{escape(short_money(value))}</text>'
        )
        value += step
    for tick in _time_ticks(start, end):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#f3f4f6"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
            f'fill="#374151">{escape(_time_label(tick, span_s))}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#9ca3af"/>'
    )
    for index, line in enumerate(series):
        path = [f"M{x_of(start):.1f},{y_of(0):.1f}"]
        last = 0.0
        for moment, level in line.points:
            x = x_of(moment)
            path.append(f"L{x:.1f},{y_of(last):.1f}L{x:.1f},{y_of(level):.1f}")
            last = level
        path.append(f"L{x_of(end):.1f},{y_of(last):.1f}")
        dash = ' stroke-dasharray="6 4"' if index == 0 and len(series) > 1 else ""
        parts.append(
            f'<path d="{"".join(path)}" fill="none" stroke="{line.color}" stroke-width="2.2"'
            f"{dash}/>"
        )
        ly = top + 14 + 36 * index
        lx = left + plot_w + 14
        parts.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{line.color}" '
            f'stroke-width="3"{dash}/>'
        )
        parts.append(
            f'<text x="{lx + 28}" y="{ly + 4}" font-size="12" fill="#111827">'
            f"{escape(line.name)}</text>"
        )
        parts.append(
            f'<text x="{lx + 28}" y="{ly + 19}" font-size="11" fill="#4b5563">'
            f"{escape(short_money(last))}</text>"
        )
    if title:
        parts.append(
            f'<text x="{left}" y="{top - 10}" font-size="13" font-weight="600" fill="#111827">'
            f"{escape(title)}</text>"
        )
    if y_label:
        parts.append(
            f'<text x="14" y="{top + plot_h / 2:.1f}" font-size="11" fill="#374151" '
            f'transform="rotate(-90 14 {top + plot_h / 2:.1f})" text-anchor="middle">'
            f"{escape(y_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _heat_color(value: int, peak: int, hue: tuple[int, int, int]) -> str:
    if value <= 0 or peak <= 0:
        return "#f9fafb"
    frac = 0.15 + 0.85 * math.sqrt(value / peak)
    r, g, b = (round(255 - (255 - c) * frac) for c in hue)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    grid: Sequence[Sequence[int]],
    *,
    title: str,
    hue: tuple[int, int, int] = (185, 28, 28),
    cell: int = 21,
) -> str:
    """A weekday × hour grid of counts (rows Monday..Sunday, columns 0..23 h)."""
    left, top = 44, 40
    width = left + 24 * cell + 12
    height = top + 7 * cell + 12
    peak = max((v for row in grid for v in row), default=0)
    parts = [
        f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" style="{FONT}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="14" font-size="13" font-weight="600" fill="#111827">'
        f"{escape(title)} (peak {peak})</text>",
    ]
    for hour in range(24):
        parts.append(
            f'<text x="{left + hour * cell + cell / 2:.1f}" y="{top - 6}" font-size="10" '
            f'text-anchor="middle" fill="#374151">{hour:02d}</text>'
        )
    for day, label in enumerate(WEEKDAYS):
        y = top + day * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#374151">{label}</text>'
        )
        row = grid[day] if day < len(grid) else []
        for hour in range(24):
            value = row[hour] if hour < len(row) else 0
            color = _heat_color(value, peak, hue)
            x = left + hour * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{color}">'
                f"<title>{label} {hour:02d}:00 — {value}</title></rect>"
            )
            if value:
                ink = "#fff" if peak and value / peak > 0.45 else "#111827"
                text = str(value) if value < 1000 else f"{value / 1000:.1f}k"
                size = 10 if len(text) <= 3 else 8
                parts.append(
                    f'<text x="{x + cell / 2 - 0.5:.1f}" y="{y + cell / 2 + 3.5:.1f}" '
                    f'font-size="{size}" text-anchor="middle" fill="{ink}">{text}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _merge(extents: list[tuple[float, float]], gap: float = 0.6) -> list[tuple[float, float]]:
    """Merge horizontal extents closer than ``gap`` pixels (keeps the SVG small)."""
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(extents):
        hi = max(hi, lo + 1.5)
        if merged and lo <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def timeline(
    spans: Sequence[Span],
    markers: Sequence[Marker],
    start: datetime,
    end: datetime,
    *,
    width: int = 1150,
    title: str = "",
) -> str:
    """One incident: its calls as bars, each policy's first stopping action as a vertical mark."""
    left, right, top = 12, 12, 22
    lane = 26
    legend_rows = len(markers)
    height = top + lane + 26 + 16 * legend_rows + 8
    plot_w = width - left - right
    lo, hi = start, end
    if hi <= lo:
        hi = lo + timedelta(minutes=1)
    pad = (hi - lo) * 0.03
    lo, hi = lo - pad, hi + pad
    span_s = (hi - lo).total_seconds()

    def x_of(moment: datetime) -> float:
        frac = (moment - lo).total_seconds() / span_s
        return left + plot_w * min(1.0, max(0.0, frac))

    parts = [
        f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" style="{FONT}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    if title:
        parts.append(
            f'<text x="{left}" y="14" font-size="12" font-weight="600" fill="#111827">'
            f"{escape(title)}</text>"
        )
    base = top
    parts.append(
        f'<rect x="{left}" y="{base}" width="{plot_w}" height="{lane}" fill="#f9fafb" '
        f'stroke="#e5e7eb"/>'
    )
    ringing = _merge([(x_of(span.start), x_of(span.end)) for span in spans])
    talking = _merge([(x_of(s.answer), x_of(s.end)) for s in spans if s.answer is not None])
    for (x1, x2), fill in [*((r, "#fca5a5") for r in ringing), *((t, "#b91c1c") for t in talking)]:
        parts.append(
            f'<rect x="{x1:.1f}" y="{base + 4}" width="{max(1.5, x2 - x1):.1f}" '
            f'height="{lane - 8}" fill="{fill}"/>'
        )
    for tick in _time_ticks(lo, hi, target=7):
        x = x_of(tick)
        if x < left + 14 or x > left + plot_w - 14:
            continue
        parts.append(
            f'<text x="{x:.1f}" y="{base + lane + 14}" font-size="10" text-anchor="middle" '
            f'fill="#6b7280">{escape(_time_label(tick, span_s))}</text>'
        )
    for index, marker in enumerate(markers):
        if marker.time is not None:
            x = x_of(marker.time)
            outside = marker.time > hi or marker.time < lo
            dash = ' stroke-dasharray="3 2"' if outside else ""
            parts.append(
                f'<line x1="{x:.1f}" y1="{base - 4}" x2="{x:.1f}" y2="{base + lane + 4}" '
                f'stroke="{marker.color}" stroke-width="2.5"{dash}/>'
            )
        ly = base + lane + 30 + 16 * index
        parts.append(
            f'<rect x="{left}" y="{ly - 9}" width="10" height="10" fill="{marker.color}"/>'
            f'<text x="{left + 16}" y="{ly}" font-size="11" fill="#111827">'
            f"{escape(marker.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    values: Sequence[tuple[str, float]], *, color: str, width: int = 460, title: str = ""
) -> str:
    """Vertical bars (e.g. alerts per day), labelled below when there is room."""
    left, top, bottom = 40, 24, 34
    height = 200
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max((v for _k, v in values), default=0.0)
    step = nice_step(peak if peak > 0 else 1.0, 4)
    y_top = step * max(1, math.ceil(peak / step)) if peak > 0 else step * 4
    parts = [
        f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" style="{FONT}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    if title:
        parts.append(
            f'<text x="{left}" y="14" font-size="12" font-weight="600" fill="#111827">'
            f"{escape(title)}</text>"
        )
    level = 0.0
    while level <= y_top + 1e-9:
        y = top + plot_h * (1 - level / y_top)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#374151">{_fmt(level)}</text>'
        )
        level += step
    count = max(1, len(values))
    slot = plot_w / count
    every = max(1, math.ceil(count / 10))
    for index, (label, value) in enumerate(values):
        h = plot_h * value / y_top
        x = left + index * slot
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(1.0, slot * 0.7):.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 14}" font-size="9" '
                f'text-anchor="middle" fill="#6b7280">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
