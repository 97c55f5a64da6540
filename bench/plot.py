"""A tiny log-log line plot as standalone SVG (no dependency), for the growth benchmark.

>>> svg = loglog([Panel("t", "x", [Line("a", "#000", [(1, 1), (10, 100)])])])
>>> svg.startswith("<svg") and "</svg>" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Line", "Panel", "loglog"]

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Liberation Sans',sans-serif"


@dataclass(frozen=True, slots=True)
class Line:
    """A named series of (x, y) points; ``dashed`` for extrapolated ones."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    """One log-log chart: title, x-axis label and its lines (y in their own units)."""

    title: str
    xlabel: str
    lines: Sequence[Line]


def _label(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _decades(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks from below ``lo`` to above ``hi``."""
    ticks: list[float] = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if lo / 1.001 <= v <= hi * 1.001:
                ticks.append(v)
    return ticks


def _panel(p: Panel, x0: float, width: float, height: float, panels: Sequence[Panel]) -> list[str]:
    pts = [pt for line in p.lines for pt in line.points if pt[0] > 0 and pt[1] > 0]
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    xlo, xhi = min(xs) / 1.3, max(xs) * 1.3
    ylo, yhi = min(ys) / 1.6, max(ys) * 1.6
    rows = max(len(q.lines) for q in panels)  # legend: one line each, under the chart
    left, right, top, bottom = x0 + 58, x0 + width - 12, 34, height - 52 - 14 * rows

    def sx(x: float) -> float:
        return left + (math.log10(x) - math.log10(xlo)) / math.log10(xhi / xlo) * (right - left)

    def sy(y: float) -> float:
        return bottom - (math.log10(y) - math.log10(ylo)) / math.log10(yhi / ylo) * (bottom - top)

    out = [
        f'<text x="{x0 + width / 2:.1f}" y="20" text-anchor="middle" font-size="14" '
        f'font-weight="600">{escape(p.title)}</text>',
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'fill="none" stroke="#999"/>',
    ]
    for v in _decades(xlo, xhi):
        x = sx(v)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>')
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" font-size="11">'
            f"{_label(v)}</text>"
        )
    for v in _decades(ylo, yhi):
        y = sy(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{_label(v)}</text>"
        )
    out.append(
        f'<text x="{(left + right) / 2:.1f}" y="{bottom + 32}" text-anchor="middle" '
        f'font-size="12">{escape(p.xlabel)}</text>'
    )
    for i, line in enumerate(p.lines):
        shown = [(sx(x), sy(y)) for x, y in line.points if x > 0 and y > 0]
        if not shown:
            continue
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in shown)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{line.color}" stroke-width="2"{dash}/>'
        )
        for x, y in shown:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{line.color}"/>')
        ly = bottom + 50 + 14 * i
        lx = left
        out.append(
            f'<line x1="{lx:.1f}" y1="{ly - 4}" x2="{lx + 18:.1f}" y2="{ly - 4}" '
            f'stroke="{line.color}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{lx + 23:.1f}" y="{ly}" font-size="11">{escape(line.name)}</text>')
    return out


def loglog(panels: Sequence[Panel], width: float = 440, height: float = 420) -> str:
    """Panels side by side, each a log-log chart, as one standalone SVG document."""
    total = width * len(panels)
    body: list[str] = []
    for i, p in enumerate(panels):
        body.extend(_panel(p, i * width, width, height, panels))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {total:.0f} {height:.0f}" style="{FONT}">'
        f'<rect width="100%" height="100%" fill="#fff"/>' + "".join(body) + "</svg>\n"
    )
