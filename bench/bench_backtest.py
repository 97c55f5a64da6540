"""Backtest of the default demo: what tollguard prevents, at what cost to legitimate customers.

Simulates the `make demo` carrier (3,000 customers, 42 days, seed 7, attacks in the last two
weeks) into a temporary folder, replays tollguard and the reference process through the engine and
scores both against the simulator's labels. Targets are those of the engine issue. The figures are
on tollguard's own simulator; see docs/backtest-results.md for other seeds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.run import BenchResult
from tollguard.app.backtest.runner import run_backtest
from tollguard.app.backtest.scoring import BacktestResult
from tollguard.app.simulate import SimulationConfig, simulate

COMMAND = "python -m bench.run --only backtest"
DETAILS = "3,000 customers, 42 days, seed 7 (the make demo carrier)"


def bench_demo_backtest() -> list[BenchResult]:
    """Simulate the demo carrier and backtest tollguard and the reference process."""
    with tempfile.TemporaryDirectory(prefix="tollguard-bench-") as tmp:
        data = Path(tmp) / "carrier"
        simulate(SimulationConfig(subscribers=3000, days=42, seed=7), data)
        result, _ = run_backtest(data, Path(tmp) / "report", ("tollguard", "reference"))
    return backtest_results(result, ("tollguard", "reference"), DETAILS, COMMAND)


def backtest_results(
    result: BacktestResult, names: tuple[str, ...], details: str, command: str, prefix: str = ""
) -> list[BenchResult]:
    """The engine issue's four targets for each policy of a backtest (tollguard's only)."""
    out: list[BenchResult] = []
    for name in names:
        p = result.policies[name]
        median = p.median_time_to_stop_s
        # The targets are tollguard's; the reference process is shown for comparison.
        targets = (99.0, 0.0, 0.05, 120.0) if name == "tollguard" else (None,) * 4
        lost = f"{details}; ¥{p.loss:,.0f} lost of ¥{p.loss_uncontrolled:,.0f}"
        impacted = f"{details}; {p.legit_intl_impacted} of {p.legit_intl_attempts}"
        label = f"{prefix}{name}"
        out += [
            BenchResult(
                f"{label}: fraud loss prevented",
                p.prevented_pct or 0.0,
                "%",
                targets[0],
                command,
                True,
                lost,
            ),
            BenchResult(
                f"{label}: legitimate customers suspended",
                float(len(p.legit_suspended)),
                "customers",
                targets[1],
                command,
                False,
                details,
            ),
            BenchResult(
                f"{label}: legitimate international calls denied or cut",
                p.legit_intl_impacted_pct or 0.0,
                "%",
                targets[2],
                command,
                False,
                impacted,
            ),
            BenchResult(
                f"{label}: median time to first stopping action",
                float("inf") if median is None else median,
                "s",
                targets[3],
                command,
                False,
                details,
            ),
        ]
    return out


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_demo_backtest]
