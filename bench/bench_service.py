"""Service benchmarks: ``POST /v1/authorize`` latency at 2,000 requests/s (target p99 <= 2 ms) and
the in-process decision time behind it (target <= 20 us median).

The real ``tollguard serve`` runs in a subprocess on a SQLite store holding the 3,000 customers of
the `make demo` carrier (simulator seed 7). Load comes from ``hey`` (Debian package ``hey``,
installed here with apt-get when missing), a Go HTTP client on the same two-core machine, so the
client's own scheduling is inside the figures. ``hey -q`` paces each connection; the rate is
2,000 requests/s in all, spread over 4 keep-alive connections (what a Kamailio with four task
workers holds open) and over 20. Every request of a run carries the same body, a domestic or an
international call of one customer. Per-request times come from ``hey -o csv``; percentiles are
computed here. The in-process figure times ``authorize_answer`` (the handler's call into the live
engine, with its metrics) over the first 200,000 call set-ups of the demo carrier's CDRs.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.run import BenchResult
from tollguard.app.simulate import SimulationConfig, simulate

COMMAND = "python -m bench.run --only service"
RATE = 2000
SECONDS = 15
P99_TARGET_MS = 2.0
DECISION_TARGET_US = 20.0
CARRIER = SimulationConfig(subscribers=3000, days=7, seed=7)


def _tollguard() -> list[str]:
    script = Path(sys.executable).with_name("tollguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tollguard.cli"]


def _hey() -> str:
    path = shutil.which("hey")
    if path is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "hey"],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        path = shutil.which("hey")
    if path is None:
        raise RuntimeError(
            "the service benchmark needs `hey` (apt-get install hey) and could not install it"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _run_hey(
    hey: str, url: str, token: str, body: str | None, conns: int
) -> tuple[list[float], int, float]:
    args = [hey, "-z", f"{SECONDS}s", "-c", str(conns), "-q", str(RATE / conns), "-o", "csv"]
    if body is not None:
        args += ["-m", "POST", "-T", "application/json", "-H", f"Authorization: Bearer {token}",
                 "-d", body]  # fmt: skip
    args.append(url)
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    times: list[float] = []
    errors = 0
    last = 0.0
    for row in csv.DictReader(io.StringIO(out)):
        times.append(float(row["response-time"]))
        last = max(last, float(row["offset"]))
        if row["status-code"] != "200":
            errors += 1
    times.sort()
    return times, errors, last


def bench_http() -> list[BenchResult]:
    """p50/p99 of POST /v1/authorize against the real service at 2,000 requests/s."""
    hey = _hey()
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="tollguard-bench-") as tmp:
        data = Path(tmp) / "carrier"
        simulate(SimulationConfig(subscribers=3000, days=1, seed=7), data)
        db = Path(tmp) / "tg.sqlite"
        tg = _tollguard()
        subprocess.run(
            [*tg, "ingest", "--db", str(db), "--subscribers", str(data / "subscribers.csv")],
            check=True,
            capture_output=True,
        )
        token = subprocess.run(
            [*tg, "token", "create", "--db", str(db), "--role", "switch", "--name", "bench"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        with open(data / "subscribers.csv", encoding="utf-8") as fh:
            sid = next(csv.DictReader(fh))["subscriber_id"]
        port = _free_port()
        server = subprocess.Popen(
            [*tg, "serve", "--db", str(db), "--port", str(port), "--data-dir", str(Path(tmp) / "d"),
             "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            # The floor of this set-up: a route that does nothing (uvicorn, FastAPI, the client
            # on the same two cores), measured the same way.
            _run_hey(hey, f"{base}/healthz", token, None, 4)
            times, errors, span = _run_hey(hey, f"{base}/healthz", token, None, 4)
            results.append(
                BenchResult(
                    "GET /healthz p99, 4 connections (the floor: a route that does nothing)",
                    _percentile(times, 0.99) * 1000,
                    "ms",
                    command=COMMAND,
                    higher_is_better=False,
                    details=f"p50 {_percentile(times, 0.50) * 1000:.2f} ms, {len(times):,} "
                    f"requests, {errors} not 200, load {os.getloadavg()[0]:.2f} before",
                )
            )
            url = f"{base}/v1/authorize"
            calls = {
                "domestic": "0312345678",
                "international": "0012025550123",
            }
            for conns, kind in ((4, "domestic"), (4, "international"), (20, "domestic")):
                body = (
                    f'{{"call_id":"bench-{kind}","callee":"{calls[kind]}",'
                    f'"subscriber_id":"{sid}","source_ip":"198.51.100.3"}}'
                )
                _run_hey(hey, url, token, body, conns)  # warm-up run, discarded
                load = os.getloadavg()[0]
                times, errors, span = _run_hey(hey, url, token, body, conns)
                p50 = _percentile(times, 0.50) * 1000
                p99 = _percentile(times, 0.99) * 1000
                rps = len(times) / span if span else 0.0
                results.append(
                    BenchResult(
                        f"POST /v1/authorize p99, {kind} call, {conns} connections",
                        p99,
                        "ms",
                        target=P99_TARGET_MS,
                        command=COMMAND,
                        higher_is_better=False,
                        details=(
                            f"p50 {p50:.2f} ms, {len(times):,} requests at {rps:,.0f}/s "
                            f"(asked {RATE:,}/s), {errors} not 200, load {load:.2f} before"
                        ),
                    )
                )
        finally:
            server.terminate()
            server.wait(30)
    return results


def bench_in_process() -> BenchResult:
    """Median time of the handler's decision call (live engine + metrics), no HTTP."""
    from tollguard.adapters.readers import read_cdrs, read_subscribers
    from tollguard.app.service.fastpath import authorize_answer
    from tollguard.app.service.live import LiveEngine
    from tollguard.app.service.metrics import ServiceMetrics
    from tollguard.domain.engine import Engine
    from tollguard.domain.records import CallDetailRecord, Subscriber

    class Discard:
        def submit(self, outputs: list[object], seq: int = 0) -> None:
            return None

    with tempfile.TemporaryDirectory(prefix="tollguard-bench-") as tmp:
        data = Path(tmp) / "carrier"
        simulate(CARRIER, data)
        subs = [s for s in read_subscribers(data / "subscribers.csv") if isinstance(s, Subscriber)]
        calls = []
        for r in read_cdrs(data / "cdrs.csv"):
            if isinstance(r, CallDetailRecord):
                calls.append(r)
            if len(calls) >= 200_000:
                break
    clock_t = [0.0]
    live = LiveEngine(Engine(subs), Discard(), clock=lambda: clock_t[0])  # type: ignore[arg-type]
    metrics = ServiceMetrics(lambda: {})
    times: list[float] = []
    perf: Callable[[], float] = time.perf_counter
    for r in calls:
        clock_t[0] = r.start.timestamp()
        fields: dict[str, str | None] = {
            "call_id": r.call_id,
            "callee": r.callee,
            "subscriber_id": r.subscriber_id,
            "caller": None,
            "source_ip": r.source_ip,
        }
        t0 = perf()
        authorize_answer(live, metrics, fields)
        times.append(perf() - t0)
    times.sort()
    median_us = statistics.median(times) * 1e6
    p99_us = _percentile(times, 0.99) * 1e6
    return BenchResult(
        "in-process decision (authorize_answer), median",
        median_us,
        "us",
        target=DECISION_TARGET_US,
        command=COMMAND,
        higher_is_better=False,
        details=f"p99 {p99_us:.1f} us over {len(times):,} call set-ups of the demo carrier",
    )


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_http, bench_in_process]
