"""Profile of `tollguard replay` on the `make demo` carrier (3,000 customers, 42 days, seed 7),
sampled with py-spy in both of its processes (the engine's, and the one reading the CDRs).

py-spy (a dev dependency) samples the running command from outside at 500 Hz (the same command is
also timed unprofiled, to show what sampling costs); samples are taken while a process runs on a
CPU, not while it waits. The summary (written beside the numbers) gives each process's share of the
samples by phase and the functions with the most samples of their own ("self"), from py-spy's
raw (collapsed stacks) output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.bench_engine import SMALL
from bench.carriers import carrier, load, replay_args, run_replay, tollguard
from bench.run import BenchResult

COMMAND = "python -m bench.run --only profile"
RATE = 500
TOP = 12

#: Where the engine process's samples go: the first of these functions found on the stack.
_PHASES = (
    ("StreamedReplay._calls", "receiving CDR batches from the reading process"),
    ("Engine.call_started", "engine: call set-up (authorization; ticks due run inside)"),
    ("Engine.process", "engine: answers, ends, SIP events, ticks"),
    ("Engine.advance", "engine: answers, ends, SIP events, ticks"),
    ("_run_fast", "replay loop (ordering events, heap)"),
    ("write_output_batches", "formatting and writing the output lines"),
    ("StreamedReplay.__init__", "start-up: reading subscribers, starting the reader"),
    ("Engine.__init__", "start-up: building the engine"),
)


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("the profile group needs py-spy (pip install py-spy: a dev extra)")
    return found


def _name(frame: str) -> str:
    """``func (path/file.py:12)`` -> ``func (file.py)`` with the package path kept short."""
    frame = re.sub(r":\d+\)$", ")", frame)
    return re.sub(r"\(.*?(tollguard/|site-packages/|python3\.\d+/)", "(", frame)


def summarize(raw: str) -> dict[str, tuple[int, Counter[str], Counter[str]]]:
    """Per process role (``engine``, ``reader``): samples, self samples by function, samples
    by phase (engine only)."""
    out: dict[str, tuple[int, Counter[str], Counter[str]]] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        marks = [i for i, f in enumerate(frames) if f.startswith("process ")]
        role = "reader" if len(marks) > 1 else "engine"
        own = [_name(f) for f in frames[marks[-1] + 1 :]]
        if role == "engine" and not own:
            own = ["(no Python frame: start-up or exit)"]
        if not own:
            continue
        n = int(count)
        total, selfs, phases = out.setdefault(role, (0, Counter(), Counter()))
        selfs[own[-1]] += n
        if role == "engine":
            phase = "other: start-up (imports, command line), end"
            for key, label in _PHASES:
                if any(f.startswith(key + " ") for f in own):
                    phase = label
                    break
            phases[phase] += n
        out[role] = (total + n, selfs, phases)
    return out


def _table(title: str, total: int, counter: Counter[str], top: int) -> list[str]:
    rows = [f"{title}:", "", "| samples | share | |", "|---:|---:|---|"]
    for name, n in counter.most_common(top):
        rows.append(f"| {n:,} | {n / total:.1%} | `{name}` |")
    return rows


def bench_profile() -> list[BenchResult]:
    """py-spy profile of the replay of the demo carrier."""
    data = carrier(SMALL)
    with tempfile.TemporaryDirectory(prefix="tollguard-bench-profile-") as tmp:
        raw_path = Path(tmp) / "profile.txt"
        spy = [_py_spy(), "record", "--format", "raw", "--rate", str(RATE), "--subprocesses"]
        args = [*spy, "-o", str(raw_path), "--", *tollguard(), *replay_args(data, Path(tmp) / "o")]
        before = load()
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        wall = time.perf_counter() - start
        raw = raw_path.read_text(encoding="utf-8")
    plain = run_replay(data)
    roles = summarize(raw)
    engine_total, engine_self, phases = roles["engine"]
    reader_total, reader_self, _ = roles.get("reader", (0, Counter(), Counter()))
    shown = (
        "py-spy record --format raw --rate 500 --subprocesses -o profile.txt -- "
        "tollguard replay --subscribers demo/subscribers.csv --cdrs demo/cdrs.csv "
        "--sip-events demo/sip_events.csv --out replay.jsonl"
    )
    notes = [
        f"Profile of `tollguard replay` on the demo carrier ({data.made}: {data.calls:,} "
        f"calls, {data.sip_events:,} SIP events), {engine_total + reader_total:,} samples at "
        f"{RATE} Hz; command (data made by `tollguard {data.made} --out demo`):",
        "",
        f"    {shown}",
        "",
        f"Engine process ({engine_total:,} samples) by phase:",
        "",
        "| samples | share | phase |",
        "|---:|---:|---|",
        *(f"| {n:,} | {n / engine_total:.1%} | {p} |" for p, n in phases.most_common()),
        "",
        *_table(
            f"Engine process, top {TOP} functions by own samples", engine_total, engine_self, TOP
        ),
    ]
    if reader_total:
        notes += [
            "",
            *_table(
                f"Reading process ({reader_total:,} samples), top {TOP} functions by own samples",
                reader_total,
                reader_self,
                TOP,
            ),
        ]
    return [
        BenchResult(
            "profiled replay of the demo carrier, wall clock",
            wall,
            "s",
            None,
            COMMAND,
            False,
            f"{data.calls:,} calls; {engine_total:,} samples in the engine's process, "
            f"{reader_total:,} in the reading process; unprofiled {plain.wall:.1f} s; load "
            f"average {before} before.",
            notes="\n".join(notes),
        )
    ]


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_profile]
