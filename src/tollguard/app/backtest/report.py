"""Writing a backtest: ``summary.json`` (deterministic) and a self-contained HTML report.

The HTML holds its CSS and SVG plots inline and references nothing outside itself: no CDN, no
font, no script, no URL. :func:`comparison_rows` is shared with the terminal table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from pathlib import Path

from tollguard.app.backtest.scoring import (
    NO_CONTROL,
    BacktestResult,
    IncidentScore,
    PolicyResult,
    summary_dict,
)
from tollguard.app.backtest.svg import (
    Marker,
    Series,
    Span,
    bar_chart,
    heatmap,
    step_chart,
    timeline,
)

POLICY_COLORS = {NO_CONTROL: "#6b7280", "reference": "#d97706", "tollguard": "#2563eb"}
_PALETTE = ("#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")
TARGET_PREVENTED_PCT = 99.0


def policy_color(name: str, index: int = 0) -> str:
    """The colour a policy is drawn in, stable across plots."""
    return POLICY_COLORS.get(name, _PALETTE[index % len(_PALETTE)])


def write_summary(result: BacktestResult, path: Path) -> Path:
    """Write ``summary.json``: sorted keys, fixed rounding, trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary_dict(result), sort_keys=True, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def yen(value: float) -> str:
    """``¥12,345``."""
    return f"¥{value:,.0f}"


def pct(value: float | None, digits: int = 2) -> str:
    """``99.50 %`` or an em dash when undefined."""
    return "—" if value is None else f"{value:.{digits}f} %"


def duration(seconds: float | None) -> str:
    """A short human duration; ``never`` for ``None``; negative means "before"."""
    if seconds is None:
        return "never"
    sign = "−" if seconds < 0 else ""
    left = abs(round(seconds))
    if left < 60:
        return f"{sign}{left} s"
    if left < 3600:
        minutes, secs = divmod(left, 60)
        return f"{sign}{minutes} min {secs:02d} s" if secs else f"{sign}{minutes} min"
    if left < 86400:
        hours, rest = divmod(left, 3600)
        return f"{sign}{hours} h {rest // 60:02d} min"
    days, rest = divmod(left, 86400)
    return f"{sign}{days} d {rest // 3600} h"


def comparison_rows(result: BacktestResult) -> list[tuple[str, dict[str, str]]]:
    """The headline metrics, formatted, one row per metric and one column per policy."""
    rows: list[tuple[str, dict[str, str]]] = []

    def add(label: str, fmt: Callable[[PolicyResult], str]) -> None:
        rows.append((label, {name: fmt(res) for name, res in result.policies.items()}))

    add("Fraud loss (JPY)", lambda r: yen(r.loss))
    add("Fraud loss prevented", lambda r: pct(r.prevented_pct))
    add(
        "Incidents stopped",
        lambda r: f"{r.incidents_stopped} / {len(r.incidents_with_calls)}",
    )
    add("Median time to first stopping action", lambda r: duration(r.median_time_to_stop_s))
    add("Legitimate customers suspended", lambda r: str(len(r.legit_suspended_customers)))
    add(
        "Legitimate intl calls denied or cut",
        lambda r: f"{r.legit_intl_impacted} ({pct(r.legit_intl_impacted_pct, 3)})",
    )
    add(
        "Look-alike customers' calls denied / cut",
        lambda r: f"{r.lookalike_calls_denied} / {r.lookalike_calls_cut}",
    )
    add("Alerts per day", lambda r: f"{r.alerts_per_day:.1f}")
    return rows


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
  margin: 24px 32px; color: #111827; background: #f3f4f6; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid #d1d5db; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: #4b5563; margin-bottom: 8px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px;
  margin: 10px 0; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e5e7eb; text-align: right;
  white-space: nowrap; }
th { background: #f9fafb; font-weight: 600; }
td.l, th.l { text-align: left; }
td.w { white-space: normal; min-width: 120px; max-width: 260px; }
td.wide { max-width: 560px; }
.ok { color: #047857; font-weight: 600; }
.bad { color: #b91c1c; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 6px; vertical-align: baseline; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.note { color: #4b5563; font-size: 12px; }
svg.plot { display: block; max-width: 100%; height: auto; }
"""


def _head(name: str, index: int) -> str:
    color = policy_color(name, index)
    return f'<span class="swatch" style="background:{color}"></span>{escape(name)}'


def _policy_headers(result: BacktestResult, names: list[str]) -> str:
    order = list(result.policies)
    return "".join(f"<th>{_head(n, order.index(n))}</th>" for n in names)


def _comparison_table(result: BacktestResult) -> str:
    names = list(result.policies)
    body = []
    for label, values in comparison_rows(result):
        cells = []
        for name in names:
            css = ""
            if label == "Fraud loss prevented" and name != NO_CONTROL:
                value = result.policies[name].prevented_pct
                css = ' class="ok"' if value is not None and value >= TARGET_PREVENTED_PCT else ""
                css = css or ' class="bad"'
            cells.append(f"<td{css}>{escape(values[name])}</td>")
        body.append(f'<tr><td class="l">{escape(label)}</td>{"".join(cells)}</tr>')
    return (
        f'<table><tr><th class="l">Metric</th>{_policy_headers(result, names)}</tr>'
        f"{''.join(body)}</table>"
    )


def _loss_plot(result: BacktestResult) -> str:
    info = result.dataset
    start = info.period_start
    end = info.period_end
    all_points = [t for res in result.policies.values() for t, _v in res.loss_curve]
    if start is None or end is None:
        if not all_points:
            return '<p class="note">No fraud loss in this data set.</p>'
        start, end = min(all_points), max(all_points)
    series = [
        Series(name, policy_color(name, i), res.loss_curve)
        for i, (name, res) in enumerate(result.policies.items())
    ]
    # Zoom on the attacks: from shortly before the first incident (or loss) to the end.
    title = "Cumulative fraud loss (JPY)"
    events = [*all_points, *(s for s in result.incident_starts)]
    if events:
        first = min(events)
        pad = max(timedelta(hours=1), (end - first) * 0.04)
        if first - pad > start:
            start = first - pad
            title += ", from the first incident"
    return step_chart(series, start, end, title=title, y_label="JPY lost to fraud")


def _relative(seconds: float | None, anchor: str) -> str:
    """``5 min after the first call`` / ``1 h 09 min before the first call``."""
    if seconds is None:
        return "never"
    word = "before" if seconds < 0 else "after"
    return f"{duration(abs(seconds))} {word} {anchor}"


def _stop_when(inc: IncidentScore) -> str:
    if inc.first_call is None:
        return _relative(inc.time_from_start_s, "the incident began")
    return _relative(inc.time_to_stop_s, "the first call")


def _stop_text(inc: IncidentScore) -> str:
    if inc.stop is None:
        return "not stopped"
    return f"{inc.stop.describe()}, {_stop_when(inc)}"


def _incident_table(result: BacktestResult) -> str:
    controlled = [n for n in result.policies if n != NO_CONTROL]
    baseline = next(iter(result.policies.values()))
    order = list(result.policies)
    head = (
        '<tr><th class="l">Incident</th><th class="l">Kind</th><th class="l">Customers</th>'
        "<th>First call</th><th>Calls</th><th>Loss, no control</th>"
        + "".join(
            f'<th class="l">{_head(n, order.index(n))}: loss · prevented<br>'
            "first stopping action</th>"
            for n in controlled
        )
        + "</tr>"
    )
    rows = []
    for index, inc in enumerate(baseline.incidents):
        first = "—" if inc.first_call is None else inc.first_call.strftime("%m-%d %H:%M")
        cells = [
            f'<td class="l">{escape(inc.incident_id)}</td>',
            f'<td class="l">{escape(inc.kind)}</td>',
            f'<td class="l w">{escape(", ".join(inc.subscriber_ids))}</td>',
            f"<td>{escape(first)}</td>",
            f"<td>{inc.calls}</td>",
            f"<td>{yen(inc.loss_uncontrolled)}</td>",
        ]
        for name in controlled:
            mine = result.policies[name].incidents[index]
            prevented = mine.prevented_pct
            css = "ok" if prevented is not None and prevented >= TARGET_PREVENTED_PCT else "bad"
            css = css if prevented is not None else ""
            cells.append(
                f'<td class="l w">{yen(mine.loss)} · <span class="{css}">'
                f"{pct(prevented, 1)}</span><br>"
                f'<span class="note">{escape(_stop_text(mine))}</span></td>'
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S %z")


def _timelines(result: BacktestResult) -> str:
    baseline = next(iter(result.policies.values()))
    controlled = [(i, n) for i, n in enumerate(result.policies) if n != NO_CONTROL]
    blocks = []
    for index, inc in enumerate(baseline.incidents):
        calls = result.incident_calls.get(inc.incident_id, [])
        spans = [Span(c.start, c.answer, c.end) for c in calls]
        lo = min([inc.start, *(c.start for c in calls)])
        hi = max([inc.end, *(c.end for c in calls)])
        markers = []
        for order, name in controlled:
            mine = result.policies[name].incidents[index]
            color = policy_color(name, order)
            if mine.stop is None:
                markers.append(Marker(None, color, f"{name}: not stopped"))
                continue
            when = _stop_when(mine)
            label = (
                f"{name}: {mine.stop.describe()} at {mine.stop.time.strftime('%m-%d %H:%M:%S')}"
                f" ({when}; loss {yen(mine.loss)} of {yen(mine.loss_uncontrolled)})"
            )
            markers.append(Marker(mine.stop.time, color, label))
        customers = ", ".join(inc.subscriber_ids[:3])
        if len(inc.subscriber_ids) > 3:
            customers += f" +{len(inc.subscriber_ids) - 3}"
        title = (
            f"{inc.incident_id} · {inc.kind} · {customers or 'no customer'} · "
            f"{inc.calls} fraud calls · {_when(inc.start)} → {_when(inc.end)}"
        )
        blocks.append(timeline(spans, markers, lo, hi, title=title))
    if not blocks:
        return '<p class="note">No incidents in this data set.</p>'
    return "".join(blocks)


def _legit_table(result: BacktestResult) -> str:
    names = list(result.policies)
    metrics: list[tuple[str, list[str]]] = [
        ("Legitimate calls", [str(r.legit_calls) for r in result.policies.values()]),
        (
            "Legitimate calls denied / cut (all)",
            [f"{r.legit_calls_denied} / {r.legit_calls_cut}" for r in result.policies.values()],
        ),
        (
            "Legitimate international call attempts",
            [str(r.legit_intl_attempts) for r in result.policies.values()],
        ),
        (
            "… denied",
            [str(r.legit_intl_denied) for r in result.policies.values()],
        ),
        ("… cut mid-call", [str(r.legit_intl_cut) for r in result.policies.values()]),
        (
            "… denied or cut, %",
            [pct(r.legit_intl_impacted_pct, 3) for r in result.policies.values()],
        ),
        (
            "Intl attempts of customers barred at their request (denied)",
            [
                f"{r.barred_intl_attempts} ({r.barred_intl_denied})"
                for r in result.policies.values()
            ],
        ),
        (
            "Legitimate customers suspended",
            [
                escape(", ".join(r.legit_suspended_customers) or "none")
                for r in result.policies.values()
            ],
        ),
    ]
    rows = "".join(
        f'<tr><td class="l">{escape(label)}</td>'
        + "".join(f'<td class="w">{v}</td>' for v in values)
        + "</tr>"
        for label, values in metrics
    )
    table = (
        f'<table><tr><th class="l">Legitimate traffic</th>{_policy_headers(result, names)}</tr>'
        f"{rows}</table>"
    )
    suspensions = [(name, s) for name, r in result.policies.items() for s in r.legit_suspended]
    if suspensions:
        lines = "".join(
            f'<tr><td class="l">{escape(name)}</td><td class="l">{escape(s.subscriber_id)}</td>'
            f"<td>{escape(_when(s.time))}</td><td>{escape(_when(s.restored))}</td>"
            f'<td class="l">{"yes" if s.lookalike else "no"}</td>'
            f'<td class="l w wide">{escape(s.reason)}</td></tr>'
            for name, s in suspensions
        )
        table += (
            "<h3>Suspensions of legitimate customers</h3>"
            '<table><tr><th class="l">Policy</th><th class="l">Customer</th><th>Suspended</th>'
            '<th>Restored</th><th class="l">Look-alike</th><th class="l">Reason</th></tr>'
            f"{lines}</table>"
        )
    return table


def _lookalike_table(result: BacktestResult) -> str:
    baseline = next(iter(result.policies.values()))
    if not baseline.lookalikes:
        return '<p class="note">No look-alike customers labelled in this data set.</p>'
    controlled = [n for n in result.policies if n != NO_CONTROL]
    order = list(result.policies)
    head = (
        '<tr><th class="l">Customer</th><th class="l">Look-alike kind</th><th>Calls</th>'
        "<th>International</th>"
        + "".join(f"<th>{_head(n, order.index(n))}<br>denied / cut</th>" for n in controlled)
        + "</tr>"
    )
    rows = []
    for index, look in enumerate(baseline.lookalikes):
        cells = [
            f'<td class="l">{escape(look.subscriber_id)}</td>',
            f'<td class="l">{escape(look.kind)}</td>',
            f"<td>{look.calls}</td><td>{look.international_calls}</td>",
        ]
        for name in controlled:
            mine = result.policies[name].lookalikes[index]
            flag = " · suspended" if mine.suspended else ""
            css = ' class="bad"' if mine.denied or mine.cut or mine.suspended else ""
            cells.append(f"<td{css}>{mine.denied} / {mine.cut}{flag}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _workload(result: BacktestResult) -> str:
    charts = []
    detector_rows: dict[str, dict[str, int]] = {}
    order = list(result.policies)
    for name, res in result.policies.items():
        if name == NO_CONTROL:
            continue
        values = [(day[5:], float(count)) for day, count in res.alerts_by_day.items()]
        charts.append(
            bar_chart(
                values,
                color=policy_color(name, order.index(name)),
                title=f"{name}: alerts per day (mean {res.alerts_per_day:.1f})",
            )
        )
        for detector, count in res.alerts_by_detector.items():
            detector_rows.setdefault(detector, {})[name] = count
    names = [n for n in result.policies if n != NO_CONTROL]
    action_rows: dict[str, dict[str, int]] = {}
    for name in names:
        for kind, count in result.policies[name].actions_by_kind.items():
            action_rows.setdefault(kind, {})[name] = count
    tables = [
        _count_table(result, names, "Alerts by detector", detector_rows),
        _count_table(result, names, "Actions taken", action_rows),
    ]
    return f'<div class="grid">{"".join(charts)}</div><div class="grid">{"".join(tables)}</div>'


def _count_table(
    result: BacktestResult, names: list[str], label: str, counts: dict[str, dict[str, int]]
) -> str:
    """Counts per key (rows) and policy (columns); empty when there is nothing to count."""
    if not counts:
        return ""
    rows = "".join(
        f'<tr><td class="l">{escape(key)}</td>'
        + "".join(f"<td>{per.get(n, 0)}</td>" for n in names)
        + "</tr>"
        for key, per in sorted(counts.items())
    )
    return (
        f'<table><tr><th class="l">{escape(label)}</th>{_policy_headers(result, names)}</tr>'
        f"{rows}</table>"
    )


def render_html(result: BacktestResult) -> str:
    """The report as one self-contained HTML document."""
    info = result.dataset
    period = (
        f"{_when(info.period_start)} → {_when(info.period_end)}"
        if info.period_start is not None
        else "no calls"
    )
    days = "day" if info.days == 1 else "days"
    meta = (
        f"Data set <b>{escape(info.name)}</b>: {info.subscribers:,} customers, "
        f"{info.calls:,} calls ({info.fraud_calls:,} fraud), {info.incidents} incidents, "
        f"{info.lookalikes} look-alike customers, {info.days:g} {days} ({escape(period)})."
    )
    sections = [
        "<h2>Policies compared</h2>",
        f'<div class="card">{_comparison_table(result)}'
        f'<p class="note">Target: fraud loss prevented ≥ {TARGET_PREVENTED_PCT:g} %. '
        f"“none” is the loss with no control at all. Definitions: docs/backtest.md.</p></div>",
        "<h2>Cumulative fraud loss</h2>",
        f'<div class="card">{_loss_plot(result)}</div>',
        "<h2>When attacks happen</h2>",
        '<div class="card grid">'
        + heatmap(result.heatmap_calls, title="Fraud calls by weekday × hour (local time)")
        + heatmap(
            result.heatmap_incidents,
            title="Incident starts by weekday × hour",
            hue=(124, 58, 237),
        )
        + "</div>",
        "<h2>Incidents</h2>",
        f'<div class="card">{_incident_table(result)}</div>',
        "<h3>Timelines</h3>",
        '<p class="note">Bars: fraud calls (light: ringing or unanswered; dark: answered, billed). '
        "Vertical lines: each policy's first stopping action (dashed: outside the window).</p>",
        f'<div class="card">{_timelines(result)}</div>',
        "<h2>Legitimate customers</h2>",
        f'<div class="card">{_legit_table(result)}</div>',
        "<h3>Look-alike customers (legitimate, fraud-like behaviour)</h3>",
        f'<div class="card">{_lookalike_table(result)}</div>',
        "<h2>Analyst workload</h2>",
        f'<div class="card">{_workload(result)}</div>',
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tollguard backtest · {escape(info.name)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f'<h1>tollguard backtest</h1><p class="meta">{meta}</p>'
        + "".join(sections)
        + "</body></html>\n"
    )


def render_report(result: BacktestResult, path: Path) -> Path:
    """Write the self-contained HTML report to ``path`` (a file, or a directory for
    ``report.html``) and return the file written."""
    target = path / "report.html" if path.is_dir() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(result), encoding="utf-8")
    return target


def write_outputs(result: BacktestResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_summary(result, out_dir / "summary.json"), render_report(
        result, out_dir / "report.html"
    )


__all__ = [
    "comparison_rows",
    "duration",
    "render_html",
    "render_report",
    "write_outputs",
    "write_summary",
]
