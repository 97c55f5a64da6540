"""Small inline SVG charts for the console (server-rendered: no script, nothing fetched).

Every value that reaches the markup is a number or passes through :func:`html.escape`; colours
are SVG attributes (the pages' Content-Security-Policy allows no inline ``style``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def charges_chart(
    labels: Sequence[str],
    charges: Sequence[float],
    usual: Sequence[float],
    threshold: Sequence[float],
    *,
    title: str,
    legend: tuple[str, str, str],
    width: int = 760,
    height: int = 220,
) -> str:
    """Bars of charges per period against the customer's usual level and alert threshold."""
    n = len(charges)
    if n == 0:
        return ""
    left, right, top, bottom = 56, 10, 24, 34
    w, h = width - left - right, height - top - bottom
    peak = max([*charges, *usual, *threshold, 1.0])
    step = w / n

    def y(v: float) -> float:
        return top + h - (v / peak) * h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#889"/>',
    ]
    for frac in (0.5, 1.0):
        v = peak * frac
        parts.append(
            f'<line x1="{left}" y1="{_num(y(v))}" x2="{left + w}" y2="{_num(y(v))}" '
            'stroke="#ccd" stroke-dasharray="2 3"/>'
            f'<text x="{left - 4}" y="{_num(y(v) + 4)}" text-anchor="end" class="tick">'
            f"¥{round(v):,}</text>"
        )
    for i, v in enumerate(charges):
        x = left + i * step
        bh = max(0.0, (v / peak) * h)
        fill = "#c0392b" if threshold and v > threshold[i] else "#2c7be5"
        parts.append(
            f'<rect x="{_num(x + 1)}" y="{_num(top + h - bh)}" width="{_num(max(step - 2, 1))}" '
            f'height="{_num(bh)}" fill="{fill}"><title>{escape(labels[i])}: ¥{round(v):,}'
            "</title></rect>"
        )
    for series, colour, dash in ((usual, "#27ae60", ""), (threshold, "#e67e22", "6 4")):
        if not series:
            continue
        pts = " ".join(
            f"{_num(left + (i + 0.5) * step)},{_num(y(v))}" for i, v in enumerate(series)
        )
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{extra}/>'
        )
    every = max(1, n // 8)
    for i in range(0, n, every):
        parts.append(
            f'<text x="{_num(left + (i + 0.5) * step)}" y="{height - 18}" text-anchor="middle" '
            f'class="tick">{escape(labels[i])}</text>'
        )
    lx = left
    for text, colour in zip(legend, ("#2c7be5", "#27ae60", "#e67e22"), strict=True):
        parts.append(
            f'<rect x="{lx}" y="{height - 11}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{height - 2}" class="tick">{escape(text)}</text>'
        )
        lx += 14 + 9 * len(text) + 24
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    counts: Sequence[Sequence[int]],
    row_labels: Sequence[str],
    *,
    title: str,
    width: int = 760,
) -> str:
    """A grid of counts: rows (days of week) x 24 columns (hours), darker for more."""
    left, top, cell_h = 70, 22, 22
    cols = len(counts[0]) if counts else 24
    cell_w = (width - left - 8) / cols
    height = top + cell_h * len(counts) + 8
    peak = max([max(r) for r in counts] + [1])
    parts = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for c in range(0, cols, 3):
        parts.append(
            f'<text x="{_num(left + (c + 0.5) * cell_w)}" y="{top - 6}" text-anchor="middle" '
            f'class="tick">{c:02d}</text>'
        )
    for r, row in enumerate(counts):
        yy = top + r * cell_h
        parts.append(
            f'<text x="{left - 6}" y="{yy + cell_h - 7}" text-anchor="end" class="tick">'
            f"{escape(row_labels[r])}</text>"
        )
        for c, v in enumerate(row):
            level = v / peak
            # white -> deep red
            red = 255 - int(63 * level)
            other = 255 - int(215 * level)
            parts.append(
                f'<rect x="{_num(left + c * cell_w)}" y="{yy}" width="{_num(cell_w - 1)}" '
                f'height="{cell_h - 1}" fill="rgb({red},{other},{other})" stroke="#eee">'
                f"<title>{escape(row_labels[r])} {c:02d}:00 — {v}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    title: str,
    width: int = 760,
    height: int = 180,
) -> str:
    """Grouped bars of shares (0-1), one group per label, one bar per series."""
    n = len(labels)
    if n == 0 or not series:
        return ""
    left, top, bottom = 10, 10, 44
    h = height - top - bottom
    group = (width - 2 * left) / n
    bw = (group - 6) / len(series)
    peak = max([max(s[2]) if s[2] else 0 for s in series] + [0.01])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, label in enumerate(labels):
        for j, (_name, colour, values) in enumerate(series):
            v = values[i] if i < len(values) else 0.0
            bh = (v / peak) * h
            x = left + i * group + 3 + j * bw
            parts.append(
                f'<rect x="{_num(x)}" y="{_num(top + h - bh)}" width="{_num(bw - 1)}" '
                f'height="{_num(bh)}" fill="{colour}"><title>{escape(label)}: '
                f"{round(v * 100)}%</title></rect>"
            )
        parts.append(
            f'<text x="{_num(left + (i + 0.5) * group)}" y="{top + h + 14}" '
            f'text-anchor="middle" class="tick">{escape(label)}</text>'
        )
    lx = left
    for name, colour, _values in series:
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" class="tick">{escape(name)}</text>'
        )
        lx += 14 + 9 * len(name) + 24
    parts.append("</svg>")
    return "".join(parts)
