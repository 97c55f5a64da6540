"""Backtest on traffic the engine was not tuned on: the independent generator ``bench.altsim``.

``bench/altsim`` was written apart from the engine and from ``tollguard simulate`` (its author did
not read either): other customers (call centres, hotels, ship operators on satellite phones,
migrant families, trading houses calling branches at night), other attacks (stolen credentials
used from a Japanese VPS, IRSF on the customer's own usual country, short-call floods, holiday
pumps) and legitimate surprises (a typhoon abroad, office moves, stale SIP passwords). Its
README lists every assumption and source. Same targets as the demo backtest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.altsim.generate import Config, generate
from bench.bench_backtest import backtest_results
from bench.run import BenchResult
from tollguard.app.backtest.runner import run_backtest

COMMAND = "python -m bench.run --only altsim"
DETAILS = "independent generator bench.altsim, 3,000 customers, 42 days, seed 1"


def bench_altsim_backtest() -> list[BenchResult]:
    """Generate the independent carrier and backtest tollguard on it."""
    with tempfile.TemporaryDirectory(prefix="tollguard-bench-") as tmp:
        data = Path(tmp) / "carrier"
        generate(Config(subscribers=3000, days=42, seed=1), data)
        result, _ = run_backtest(data, Path(tmp) / "report", ("tollguard",))
    return backtest_results(result, ("tollguard",), DETAILS, COMMAND, prefix="independent: ")


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_altsim_backtest]
