"""Simulated carriers and `tollguard replay` runs shared by the scale benchmarks (throughput,
memory, growth, profile).

A carrier is simulated once per benchmark run (``python -m bench.run`` imports every group into
one process) into a temporary folder removed at exit, so groups that need the same traffic share
it. Histories shorter than a simulated period are its first days (:func:`history`): the same
customers with less history, not a different carrier.
"""

from __future__ import annotations

import atexit
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tollguard.app.simulate import SimulationConfig, SimulationSummary, simulate

__all__ = [
    "HISTORY",
    "MILLION",
    "Carrier",
    "ReplayRun",
    "carrier",
    "customers",
    "history",
    "load",
    "replay_args",
    "run_replay",
    "state",
    "tollguard",
]


#: A day of a million customers (the customers axis is its first 10k, 30k, ... customers).
MILLION = SimulationConfig(subscribers=1_000_000, days=1, seed=1)
#: 90 days of 10,000 customers (the history axis is its first 1, 7, 30 and 90 days).
HISTORY = SimulationConfig(subscribers=10_000, days=90, seed=1)


@dataclass(frozen=True, slots=True)
class Carrier:
    """The files of a simulated carrier and what they hold."""

    path: Path
    subscribers: int
    days: int
    calls: int
    sip_events: int
    made: str  # how it was made, e.g. "simulate --subscribers 10000 --days 1 --seed 1"

    @property
    def subscribers_csv(self) -> Path:
        return self.path / "subscribers.csv"

    @property
    def cdrs_csv(self) -> Path:
        return self.path / "cdrs.csv"

    @property
    def sip_csv(self) -> Path:
        return self.path / "sip_events.csv"


_root: Path | None = None
_made: dict[SimulationConfig, Carrier] = {}
_cut: dict[tuple[SimulationConfig, int], Carrier] = {}
_part: dict[tuple[SimulationConfig, int], Carrier] = {}


def _workdir() -> Path:
    """A temporary folder removed at exit; or, with ``TOLLGUARD_BENCH_CARRIERS=DIR``, that folder,
    kept, where carriers made by an earlier run are used again (the simulator gives the same
    bytes for the same settings)."""
    global _root
    if _root is None:
        kept = os.environ.get("TOLLGUARD_BENCH_CARRIERS")
        if kept:
            _root = Path(kept)
            _root.mkdir(parents=True, exist_ok=True)
        else:
            _root = Path(tempfile.mkdtemp(prefix="tollguard-bench-carriers-"))
            atexit.register(shutil.rmtree, _root, True)
    return _root


def _done(path: Path) -> Path:
    return path / ".bench-complete"


def _describe(config: SimulationConfig) -> str:
    return f"simulate --subscribers {config.subscribers} --days {config.days} --seed {config.seed}"


def carrier(config: SimulationConfig) -> Carrier:
    """The carrier simulated with ``config`` (made on first use, then shared)."""
    hit = _made.get(config)
    if hit is None:
        path = _workdir() / f"s{config.subscribers}-d{config.days}-r{config.seed}"
        if _done(path).exists():
            subscribers, calls, sips = map(int, _done(path).read_text().split())
        else:
            summary: SimulationSummary = simulate(config, path)
            shutil.rmtree(path / "truth", ignore_errors=True)  # labels: not read by a replay
            subscribers, calls, sips = summary.subscribers, summary.cdrs, summary.sip_events
            _done(path).write_text(f"{subscribers} {calls} {sips}\n")
        hit = _made[config] = Carrier(
            path, subscribers, config.days, calls, sips, _describe(config)
        )
    return hit


def _copy_until(src: Path, dst: Path, column: str, before: datetime) -> int:
    """Copy the rows of a time-ordered CSV whose ``column`` is before ``before``; the count."""
    n = 0
    with (
        src.open(encoding="utf-8", newline="") as fin,
        dst.open("w", encoding="utf-8", newline="") as fout,
    ):
        header = fin.readline()
        fout.write(header)
        index = next(csv.reader([header])).index(column)
        for line in fin:
            # Simulated rows hold no quoted comma before the time columns.
            if datetime.fromisoformat(line.split(",", index + 1)[index]) >= before:
                break
            fout.write(line)
            n += 1
    return n


def history(config: SimulationConfig, days: int) -> Carrier:
    """The first ``days`` days of the carrier simulated with ``config`` (all of it when
    ``days`` is its length): calls that start, and SIP events that happen, before the end of
    that day (JST)."""
    full = carrier(config)
    if days >= config.days:
        return full
    hit = _cut.get((config, days))
    if hit is None:
        path = full.path.with_name(f"{full.path.name}-first{days}")
        if _done(path).exists():
            calls, sips = map(int, _done(path).read_text().split())
        else:
            path.mkdir(exist_ok=True)
            shutil.copy(full.subscribers_csv, path / "subscribers.csv")
            first = datetime.fromisoformat(f"{config.start.isoformat()}T00:00:00+09:00")
            before = first + timedelta(days=days)
            calls = _copy_until(full.cdrs_csv, path / "cdrs.csv", "start", before)
            sips = _copy_until(full.sip_csv, path / "sip_events.csv", "time", before)
            _done(path).write_text(f"{calls} {sips}\n")
        hit = _cut[(config, days)] = Carrier(
            path,
            full.subscribers,
            days,
            calls,
            sips,
            f"the first {days} days of {full.made}",
        )
    return hit


def customers(config: SimulationConfig, n: int) -> Carrier:
    """The first ``n`` customers of the carrier simulated with ``config`` (all of it when ``n``
    is its size): their rows of the subscribers file (bad rows as they come), their calls, the
    SIP events of their lines, and an ``n``-in-``size`` share of the SIP events of unknown
    usernames (picked by a hash of the row, so the same each time)."""
    full = carrier(config)
    if n >= config.subscribers:
        return full
    hit = _part.get((config, n))
    if hit is None:
        path = full.path.with_name(f"{full.path.name}-first{n}c")
        if _done(path).exists():
            calls, sips = map(int, _done(path).read_text().split())
        else:
            path.mkdir(exist_ok=True)
            calls, sips = _first_customers(full, path, n, n / config.subscribers)
            _done(path).write_text(f"{calls} {sips}\n")
        hit = _part[(config, n)] = Carrier(
            path, n, config.days, calls, sips, f"the first {n:,} customers of {full.made}"
        )
    return hit


def _first_customers(full: Carrier, path: Path, n: int, share: float) -> tuple[int, int]:
    """Write the files of :func:`customers` into ``path``; (calls, SIP events) written."""
    ids: set[str] = set()
    lines: set[str] = set()  # SIP usernames of the kept customers' lines
    known: set[str] = set()  # of every customer
    with (
        full.subscribers_csv.open(encoding="utf-8", newline="") as fin,
        (path / "subscribers.csv").open("w", encoding="utf-8", newline="") as fout,
    ):
        fout.write(fin.readline())
        for i, line in enumerate(fin):
            row = next(csv.reader([line]))
            numbers = {x.strip().lstrip("+") for x in row[3].split(";")} if len(row) > 3 else set()
            known.update(numbers)
            if i < n:
                fout.write(line)
                ids.add(row[0])
                lines.update(numbers)
    calls = 0
    with (
        full.cdrs_csv.open(encoding="utf-8", newline="") as fin,
        (path / "cdrs.csv").open("w", encoding="utf-8", newline="") as fout,
    ):
        fout.write(fin.readline())
        for line in fin:
            fields = line.split(",", 2)
            if len(fields) > 2 and fields[1] in ids:
                fout.write(line)
                calls += 1
    sips = 0
    with (
        full.sip_csv.open(encoding="utf-8", newline="") as fin,
        (path / "sip_events.csv").open("w", encoding="utf-8", newline="") as fout,
    ):
        fout.write(fin.readline())
        for line in fin:
            fields = line.split(",", 3)
            user = fields[2] if len(fields) > 3 else ""
            if user in lines or (user not in known and zlib.crc32(line.encode()) < share * 2**32):
                fout.write(line)
                sips += 1
    return calls, sips


def load() -> str:
    """The machine's load average over 1 and 5 minutes, as ``1.02/0.98``."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def tollguard() -> list[str]:
    """The ``tollguard`` command of this environment."""
    script = Path(sys.executable).with_name("tollguard")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tollguard.cli import main; main()"]


def replay_args(data: Carrier, out: Path) -> list[str]:
    """The arguments of ``tollguard replay`` over a carrier's files (without the command)."""
    return [
        "replay",
        "--subscribers",
        str(data.subscribers_csv),
        "--cdrs",
        str(data.cdrs_csv),
        "--sip-events",
        str(data.sip_csv),
        "--out",
        str(out),
    ]


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """One `tollguard replay` command: wall clock, CPU of its processes, its largest process's
    peak resident memory, its output lines and the load average around it."""

    wall: float
    cpu: float
    max_rss: int  # bytes
    lines: int
    load_before: str
    load_after: str


#: Runs a command and prints its wall clock and resource use as JSON: started from this small
#: process, the command's peak resident memory is its own (a child keeps the peak of the process
#: it was spawned from, which would be the benchmark's).
_MEASURE = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, use = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "cpu": use.ru_utime + use.ru_stime,
                  "max_rss": use.ru_maxrss * 1024, "code": os.waitstatus_to_exitcode(status)}))
"""


def run_replay(data: Carrier, prefix: list[str] | None = None) -> ReplayRun:
    """Run `tollguard replay` over a carrier (output in a temporary file, then removed): wall
    clock from its start to its exit, CPU of its processes (the reading one included), and the
    peak resident memory of the larger of them."""
    with tempfile.TemporaryDirectory(prefix="tollguard-bench-replay-") as tmp:
        out = Path(tmp) / "replay.jsonl"
        args = [*(prefix or tollguard()), *replay_args(data, out)]
        before = load()
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, check=False
        )
        after = load()
        lines = done.stdout.strip().splitlines()
        measured: dict[str, Any] = json.loads(lines[-1]) if lines else {"code": done.returncode}
        if done.returncode != 0 or measured["code"] != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
        with out.open("rb") as fh:
            count = sum(1 for _ in fh)
    return ReplayRun(
        float(measured["wall"]),
        float(measured["cpu"]),
        int(measured["max_rss"]),
        count,
        before,
        after,
    )


_states: dict[tuple[Path, bool, bool], dict[str, Any]] = {}


def state(data: Carrier, traffic: bool, trace: bool = False) -> dict[str, Any]:
    """The engine state of a carrier measured by ``python -m bench.state_worker`` in a process
    of its own (see there): idle only, or idle then after the whole traffic. Measured once per
    run and shared by the groups that ask."""
    key = (data.path, traffic, trace)
    hit = _states.get(key)
    if hit is None:
        args = [
            sys.executable,
            "-m",
            "bench.state_worker",
            "--subscribers",
            str(data.subscribers_csv),
        ]
        if traffic:
            args += ["--cdrs", str(data.cdrs_csv), "--sip-events", str(data.sip_csv)]
        if trace:
            args.append("--trace")
        here = Path(__file__).resolve().parent.parent
        before = load()
        start = time.perf_counter()
        done = subprocess.run(args, check=True, capture_output=True, text=True, cwd=here)
        hit = json.loads(done.stdout.strip().splitlines()[-1])
        hit["wall_s"] = time.perf_counter() - start
        hit["load_before"], hit["load_after"] = before, load()
        _states[key] = hit
    return hit
