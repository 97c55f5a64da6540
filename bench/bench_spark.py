"""Spark benchmarks: rows per second per core of ``tollguard spark`` in local mode.

One simulated carrier (3,000 customers, 14 days, seed 7) is fed to the streaming job (Spark
``local[1]``: one executor core, UI off) as a watched folder, one day of CDRs and SIP events per
micro-batch, the way the equivalence test feeds it (``tests/test_spark_equivalence.py``), and run
through the batch backtest (``groupBy().applyInPandas`` over Parquet). Figures are input rows
(CDRs + SIP events) per second of wall time, excluding the session's start-up; the driver's
carrier stage is timed on its own (rows it took per second). The embedded replay of the same
files is the single-process reference. The machine is shared: load averages are recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.run import BenchResult
from tollguard.app.simulate import SimulationConfig, simulate

COMMAND = "python -m bench.run --only spark"
CARRIER = SimulationConfig(subscribers=3000, days=14, seed=7)
STEP_S = 86400.0


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def _rows(data: Path) -> int:
    total = 0
    for name in ("cdrs.csv", "sip_events.csv"):
        with (data / name).open(encoding="utf-8") as fh:
            total += sum(1 for _ in fh) - 1
    return total


def bench_spark() -> list[BenchResult]:
    """Streaming and batch throughput of one core, and the carrier stage's."""
    if shutil.which("java") is None:
        return [BenchResult("spark (skipped: no Java)", 0.0, "rows/s")]
    from tollguard.app.replay import load_calls, run_outputs
    from tollguard.app.spark import job
    from tollguard.app.spark.carrier import Carrier
    from tollguard.app.spark.customer import make_setup
    from tollguard.domain.engine import Engine

    with tempfile.TemporaryDirectory(prefix="tollguard-bench-spark-") as tmp:
        root = Path(tmp)
        data = root / "carrier"
        simulate(CARRIER, data)
        rows = _rows(data)
        replay = load_calls(data / "subscribers.csv", data / "cdrs.csv", data / "sip_events.csv")
        began = time.perf_counter()
        for _ in run_outputs(Engine(replay.subscribers), replay):
            pass
        embedded_s = time.perf_counter() - began
        setup = make_setup(replay.subscribers)

        load_before = _load()
        spark = job.session(
            "local[1]", 1, **{"spark.sql.streaming.noDataMicroBatches.enabled": "false"}
        )
        # time spent in the carrier stage (driver), measured around Carrier.process
        carrier_s = [0.0]
        original = Carrier.process

        def timed(self: Carrier, batch: object) -> object:
            t = time.perf_counter()
            try:
                return original(self, batch)  # type: ignore[arg-type]
            finally:
                carrier_s[0] += time.perf_counter() - t

        Carrier.process = timed  # type: ignore[assignment,method-assign]
        cdr_dir, sip_dir = root / "in" / "cdrs", root / "in" / "sip"
        running = job.start_stream(
            spark,
            setup,
            cdr_dir=cdr_dir,
            sip_dir=sip_dir,
            work_dir=root / "work",
            out_dir=root / "out",
        )
        began = time.perf_counter()
        try:
            slices = job.feed_slices(
                running, data / "cdrs.csv", data / "sip_events.csv", cdr_dir, sip_dir, STEP_S
            )
        finally:
            running.stop()
            Carrier.process = original  # type: ignore[method-assign]
        stream_s = time.perf_counter() - began
        carrier_rows = running.rows

        cdrs = spark.read.option("header", "true").schema(job.CDR_COLUMNS)
        cdrs.csv(str(data / "cdrs.csv")).write.parquet(str(root / "pq" / "cdrs"))
        sips = spark.read.option("header", "true").schema(job.SIP_COLUMNS)
        sips.csv(str(data / "sip_events.csv")).write.parquet(str(root / "pq" / "sip_events"))
        began = time.perf_counter()
        job.run_batch(
            spark,
            setup,
            spark.read.parquet(str(root / "pq" / "cdrs")),
            spark.read.parquet(str(root / "pq" / "sip_events")),
            root / "batch",
        )
        batch_s = time.perf_counter() - began
        spark.stop()
        load_after = _load()

    what = (
        f"{CARRIER.subscribers:,} customers x {CARRIER.days} days, seed {CARRIER.seed}: "
        f"{rows:,} input rows (CDRs + SIP events)"
    )
    load = f"load average (1/5 min) {load_before} before, {load_after} after"
    return [
        BenchResult(
            "streaming job, local[1] (rows/s per core)",
            rows / stream_s,
            "rows/s",
            details=(
                f"{what}, {slices} one-day micro-batches in {stream_s:.1f} s "
                f"(session start excluded); {load}."
            ),
        ),
        BenchResult(
            "batch backtest over Parquet, local[1] (rows/s per core)",
            rows / batch_s,
            "rows/s",
            details=f"{what}, one groupBy().applyInPandas pass in {batch_s:.1f} s.",
        ),
        BenchResult(
            "carrier stage on the driver (rows/s)",
            carrier_rows / max(carrier_s[0], 1e-9),
            "rows/s",
            details=(
                f"{carrier_rows:,} rows from the keys and the windowed aggregation (outputs, "
                f"international attempts, the windows' customers, SIP floods and brute forces, "
                f"baseline additions) in {carrier_s[0]:.1f} s of driver time "
                f"({carrier_rows / rows:.1%} of the input rows)."
            ),
        ),
        BenchResult(
            "embedded replay, same files (rows/s, reference)",
            rows / embedded_s,
            "rows/s",
            details=f"{what}; Engine and run_outputs in this process, {embedded_s:.1f} s.",
        ),
    ]


BENCHMARKS = [bench_spark]
