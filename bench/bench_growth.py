"""Growth: how replay time and engine memory grow from 10k to 1M customers and from 1 to 90 days
of history; a table in docs/benchmarks.md and a plot beside it (docs/benchmarks-growth.svg).

Two axes, each cut from one simulated carrier so that only one thing changes along it:

- customers: the first 10k, 30k, 100k and 300k customers of a simulated day of a million
  (``carriers.MILLION``), and all of it; one day of traffic each;
- history: the first 1, 7, 30 and 90 days of 90 simulated days of 10,000 customers
  (``carriers.HISTORY``).

At each point: `tollguard replay` of the files (wall clock, calls per second, the peak resident
memory of its largest process) and, in a process of its own, the engine state idle and after the
traffic (``bench.state_worker``; the memory group's measure). A million customers with 90 days of
history (about 100M calls) is not run: its time and state are extrapolated from the two axes
(see the notes the group writes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import run as runner
from bench.carriers import HISTORY, MILLION, Carrier, ReplayRun, customers, history, state
from bench.carriers import run_replay as replay
from bench.plot import Line, Panel, loglog
from bench.run import BenchResult

COMMAND = "python -m bench.run --only growth"
CUSTOMERS = (10_000, 30_000, 100_000, 300_000, 1_000_000)
DAYS = (1, 7, 30, 90)
SVG_NAME = "benchmarks-growth.svg"


@dataclass(frozen=True, slots=True)
class Point:
    axis: str
    data: Carrier
    run: ReplayRun
    state: dict[str, Any]

    @property
    def x(self) -> float:
        return float(self.data.subscribers if self.axis == "customers" else self.data.days)

    @property
    def state_mb(self) -> float:
        return float(self.state["after_bytes"]) / 1e6

    @property
    def idle_mb(self) -> float:
        return float(self.state["idle_bytes"]) / 1e6


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x): 1 is linear growth."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den if den else float("nan")


def _row(p: Point) -> str:
    s, r = p.state, p.run
    n = s["customers"]
    return (
        f"| {p.axis} | {p.data.subscribers:,} | {p.data.days} | {p.data.calls:,} | {r.wall:,.1f} | "
        f"{p.data.calls / r.wall:,.0f} | {r.max_rss / 1e6:,.0f} | {p.idle_mb:,.1f} | "
        f"{p.state_mb:,.1f} | {s['after_bytes'] / n:,.0f} | {r.load_before} |"
    )


def _svg(by_customers: list[Point], by_days: list[Point], extra: dict[str, float]) -> str:
    def lines(points: list[Point]) -> list[Line]:
        return [
            Line("replay wall clock (s)", "#1f77b4", [(p.x, p.run.wall) for p in points]),
            Line(
                "peak resident memory (MB)",
                "#ff7f0e",
                [(p.x, p.run.max_rss / 1e6) for p in points],
            ),
            Line("engine state after (MB)", "#2ca02c", [(p.x, p.state_mb) for p in points]),
            Line("engine state idle (MB)", "#9467bd", [(p.x, p.idle_mb) for p in points]),
        ]

    days_lines = lines(by_days)
    big, first, last = by_customers[-1], by_days[0].x, by_days[-1].x
    days_lines += [
        Line(
            "1M customers, replay (s): day 1 measured, then extrapolated",
            "#1f77b4",
            [(first, big.run.wall), (last, extra["wall_s"])],
            dashed=True,
        ),
        Line(
            "1M customers, state (MB): day 1 measured, then extrapolated",
            "#2ca02c",
            [(first, big.state_mb), (last, extra["state_mb"])],
            dashed=True,
        ),
    ]
    return loglog(
        [
            Panel("Customers (one day of traffic)", "customers", lines(by_customers)),
            Panel(
                f"History ({by_days[0].data.subscribers:,} customers)",
                "days of history",
                days_lines,
            ),
        ]
    )


def bench_growth() -> list[BenchResult]:
    """Replay time and engine state along both axes, and 1M x 90 days extrapolated."""
    by_customers: list[Point] = []
    for n in CUSTOMERS:
        data = customers(MILLION, n)
        by_customers.append(Point("customers", data, replay(data), state(data, traffic=True)))
    by_days: list[Point] = []
    for d in DAYS:
        data = history(HISTORY, d)
        by_days.append(Point("history", data, replay(data), state(data, traffic=True)))

    cx = [float(p.data.subscribers) for p in by_customers]
    time_slope = _slope(cx, [p.run.wall for p in by_customers])
    state_slope = _slope(cx, [p.state_mb for p in by_customers])
    dx = [float(p.data.days) for p in by_days]
    day_time_slope = _slope(dx, [p.run.wall for p in by_days])
    day_state_slope = _slope(dx, [p.state_mb for p in by_days])

    # 1M customers x 90 days, from the two axes. Time: the measured first day of the million,
    # plus the calls of the 89 other days at the marginal cost of a call on the history axis
    # (10k customers: the time the 7th to 90th days added, per call they added; per-customer
    # costs, paid once, are in the first day). State: the million's after one day, plus per
    # customer what the 89 other days added per customer on the history axis.
    big, first, longest = by_customers[-1], by_days[0], by_days[-1]
    calls_per_cd = longest.data.calls / (longest.data.subscribers * longest.data.days)
    calls = calls_per_cd * big.data.subscribers * longest.data.days
    marginal = (longest.run.wall - first.run.wall) / (longest.data.calls - first.data.calls)
    wall = big.run.wall + marginal * max(0.0, calls - big.data.calls)
    per_customer_history = (longest.state["after_bytes"] - first.state["after_bytes"]) / (
        longest.state["customers"]
    )
    state_b = big.state["after_bytes"] + per_customer_history * big.state["customers"]
    extra = {"wall_s": wall, "state_mb": state_b / 1e6}
    first_day_us = big.run.wall / big.data.calls * 1e6
    first_day_10k_us = by_customers[0].run.wall / by_customers[0].data.calls * 1e6

    header = [
        "| axis | customers | days | calls | replay (s) | calls/s | peak RSS (MB) "
        "| state idle (MB) | state after (MB) | state per customer (B) | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    table = [*header, *(_row(p) for p in by_customers), *(_row(p) for p in by_days)]
    svg_note = ""
    if runner.REPORT is not None:
        path = runner.REPORT.parent / SVG_NAME
        path.write_text(_svg(by_customers, by_days, extra), encoding="utf-8")
        svg_note = f"\n\n![growth of replay time and engine memory]({SVG_NAME})"
    notes = (
        "Growth (customers axis: " + by_customers[-1].data.made + " and its first customers; "
        "history axis: the first days of " + longest.data.made + "). Replay: the "
        "`tollguard replay` command; peak RSS: its largest process; state: what "
        "`Engine.snapshot()` saves, measured in a process of its own (`bench/state_worker.py`)."
        "\n\n"
        + "\n".join(table)
        + "\n\nReading the table: a day of traffic is about one call per customer, so on the "
        + "customers axis the time per call is mostly paid per customer, once: reading the "
        + "subscriber, indexing their numbers, creating their learnt state on their first call, "
        + f"looking up their address ({first_day_us:.0f} µs per call at 1M customers, "
        + f"{first_day_10k_us:.0f} µs at 10k where start-up weighs too); on the history axis "
        + f"the same customers call again and a call costs {marginal * 1e6:.0f} µs at the "
        + "margin. State grows with customers (each keeps its record and, once it calls, its "
        + "learnt state) and slowly with history (bounded per-customer counters; the lists of "
        + "closed cases and the cross-customer detectors grow with what happened)."
        + "\n\nExtrapolated, not run: a million customers with 90 days of history, about "
        + f"{calls / 1e6:,.0f}M calls ({calls_per_cd:.2f} calls per customer-day, as on the "
        + f"history axis), would replay in about {wall / 60:,.0f} min (the measured first day "
        + f"of the million, {big.run.wall:,.0f} s, plus {calls - big.data.calls:,.0f} more "
        + f"calls at the marginal {marginal * 1e6:.0f} µs per call of the history axis, "
        + "assumed the same with a hundred times more customers) and hold about "
        + f"{state_b / 1e9:,.2f} GB of state (the million's after one day, "
        + f"{big.state_mb:,.0f} MB, plus {per_customer_history:,.0f} B per customer: what "
        + "89 more days of history added per customer on the history axis)."
        + svg_note
    )
    return [
        BenchResult(
            "replay time vs customers (log-log slope, 1 = linear)",
            time_slope,
            "",
            None,
            COMMAND,
            False,
            f"{CUSTOMERS[0]:,} to {CUSTOMERS[-1]:,} customers, one day each; "
            f"{by_customers[0].run.wall:.1f} s to {by_customers[-1].run.wall:.1f} s.",
        ),
        BenchResult(
            "engine state vs customers (log-log slope)",
            state_slope,
            "",
            None,
            COMMAND,
            False,
            f"after one day: {by_customers[0].state_mb:,.1f} MB to "
            f"{by_customers[-1].state_mb:,.0f} MB.",
        ),
        BenchResult(
            "replay time vs days of history (log-log slope)",
            day_time_slope,
            "",
            None,
            COMMAND,
            False,
            f"{by_days[0].data.subscribers:,} customers, {DAYS[0]} to {DAYS[-1]} days: "
            f"{by_days[0].run.wall:.1f} s to {by_days[-1].run.wall:.1f} s.",
        ),
        BenchResult(
            "engine state vs days of history (log-log slope)",
            day_state_slope,
            "",
            None,
            COMMAND,
            False,
            f"{by_days[0].state_mb:,.1f} MB to {by_days[-1].state_mb:,.1f} MB.",
        ),
        BenchResult(
            "1M customers × 90 days, replay (extrapolated)",
            wall / 60,
            "min",
            None,
            COMMAND,
            False,
            "From the two axes; see the notes below the table.",
        ),
        BenchResult(
            "1M customers × 90 days, engine state (extrapolated)",
            state_b / 1e6,
            "MB",
            1000.0,
            COMMAND,
            False,
            "From the two axes; see the notes below the table.",
            notes=notes,
        ),
    ]


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_growth]
