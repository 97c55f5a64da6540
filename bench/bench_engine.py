"""Engine benchmarks: `tollguard replay` of ~1.3M calls (target <= 30 s wall) and the in-process
decision time of ``Engine.process(CallStarted)`` (target <= 20 us median).

Data are made deterministically with the simulator into a temporary folder: 27,000 customers,
42 days, seed 1 for the replay (1,297,732 CDRs, 332,577 SIP events: the simulator emits about
twelve SIP events per customer, ten times the 35k of the target's wording); 3,000 customers,
42 days, seed 7 (the `make demo` carrier) for the decision times, measured on every call start
of a full replay of that carrier through ``Engine.process`` (ticks that fall due run inside the
call they precede, as in production). The replay runs the real command in a subprocess; the
machine's load average is recorded before and after, since the two cores are shared.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.run import BenchResult
from tollguard.app.simulate import SimulationConfig, simulate

COMMAND = "python -m bench.run --only engine"
REPLAY_TARGET_S = 30.0
DECISION_TARGET_US = 20.0
BIG = SimulationConfig(subscribers=27_000, days=42, seed=1)
SMALL = SimulationConfig(subscribers=3000, days=42, seed=7)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def _tollguard() -> list[str]:
    script = Path(sys.executable).with_name("tollguard")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tollguard.cli import main; main()"]


def bench_replay() -> list[BenchResult]:
    """`tollguard replay` of the 1.3M-call carrier, wall clock of the whole command."""
    with tempfile.TemporaryDirectory(prefix="tollguard-bench-") as tmp:
        data = Path(tmp) / "carrier"
        summary = simulate(BIG, data)
        out = Path(tmp) / "replay.jsonl"
        args = [
            *_tollguard(),
            "replay",
            "--subscribers",
            str(data / "subscribers.csv"),
            "--cdrs",
            str(data / "cdrs.csv"),
            "--sip-events",
            str(data / "sip_events.csv"),
            "--out",
            str(out),
        ]
        before = _load()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        wall = time.perf_counter() - start
        done = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (done.ru_utime + done.ru_stime) - (usage.ru_utime + usage.ru_stime)
        after = _load()
        lines = sum(1 for _ in out.open("rb"))
        shutil.rmtree(data)
    calls, sips = summary.cdrs, summary.sip_events
    made = (
        f"simulate --subscribers {BIG.subscribers} --days {BIG.days} --seed {BIG.seed}: "
        f"{calls:,} calls, {sips:,} SIP events; {lines:,} output lines; one run; "
        f"CPU {cpu:.1f} s (the engine's process and the process reading the files); "
        f"load average (1/5 min) {before} before, {after} after."
    )
    return [
        BenchResult(
            f"tollguard replay of {calls / 1e6:.2f}M calls, wall clock",
            wall,
            "s",
            REPLAY_TARGET_S,
            COMMAND,
            False,
            made,
        ),
        BenchResult(
            "tollguard replay throughput",
            calls / wall,
            "calls/s",
            calls / REPLAY_TARGET_S,
            COMMAND,
            True,
            "Calls over the wall clock above (start of the command to its exit).",
        ),
    ]


def bench_decision() -> list[BenchResult]:
    """Time of ``Engine.process(CallStarted)`` on every call of a replayed carrier."""
    from tollguard.app.replay import _events, _sip, load_calls
    from tollguard.domain.engine import Engine
    from tollguard.domain.events import CallStarted, Decision

    with tempfile.TemporaryDirectory(prefix="tollguard-bench-") as tmp:
        data = Path(tmp) / "carrier"
        simulate(SMALL, data)
        replay = load_calls(data / "subscribers.csv", data / "cdrs.csv", data / "sip_events.csv")
    engine = Engine(replay.subscribers)
    classify = engine.classifier.classify
    process = engine.process
    clock = time.perf_counter_ns
    times: dict[bool, list[float]] = {True: [], False: []}
    assessed: list[float] = []  # international calls the controls let through (full assessment)
    for event in _events(replay.calls, [_sip(e) for e in replay.sip_events]):
        if isinstance(event, CallStarted):
            international = classify(event.callee).international
            start = clock()
            outputs = process(event)
            took = (clock() - start) / 1000.0
            times[international].append(took)
            decision = next(o for o in reversed(outputs) if isinstance(o, Decision))
            if international and (decision.allow or decision.reasons[:1] == ("fraud_risk",)):
                assessed.append(took)
        else:
            process(event)
    out: list[BenchResult] = []
    for international, label in ((True, "international"), (False, "domestic")):
        sample = sorted(times[international])
        p90 = sample[int(0.9 * (len(sample) - 1))]
        split = (
            f" Of these, {len(assessed):,} were assessed by the policy (median "
            f"{statistics.median(assessed):.1f} µs); the others were refused by a control in "
            "force (most of them attack calls: blocked address, denied destination or range)."
            if international and assessed
            else ""
        )
        out.append(
            BenchResult(
                f"Engine.process(CallStarted), {label} call, median",
                statistics.median(sample),
                "µs",
                DECISION_TARGET_US,
                COMMAND,
                False,
                (
                    f"{len(sample):,} {label} call starts of a replay of the make demo carrier "
                    f"({SMALL.subscribers:,} customers, {SMALL.days} days, seed {SMALL.seed}); "
                    f"p90 {p90:.1f} µs; load average {_load()}.{split}"
                ),
            )
        )
    return out


BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]] = [bench_replay, bench_decision]
