"""Benchmark runner: ``python -m bench.run [--only GROUP ...] [--write docs/benchmarks.md]``.

Benchmarks live in ``bench/bench_<group>.py`` modules, each exposing
``BENCHMARKS: list[Callable[[], BenchResult | list[BenchResult]]]``. The runner imports every such
module (or only the groups named with ``--only``), runs the functions, prints a table and, with
``--write``, updates the group's section of the Markdown report, keeping the other groups'
sections as they were (so each group can be re-measured on its own). Each section records the
machine (CPU model, cores, Python), the date and the exact command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import re
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "BenchResult",
    "Timing",
    "best_of",
    "collect",
    "machine",
    "main",
    "measure",
    "render_section",
]


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One measured figure, e.g. 612_000 numbers/s against a target of 500_000."""

    name: str
    figure: float
    unit: str
    target: float | None = None
    command: str = ""
    higher_is_better: bool = True
    details: str = ""
    #: Markdown printed after the group's table (a breakdown, a profile summary, a plot).
    notes: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the target is met (``None`` without a target)."""
        if self.target is None:
            return None
        return self.figure >= self.target if self.higher_is_better else self.figure <= self.target


Benchmark = Callable[[], "BenchResult | list[BenchResult]"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per call of a measured function: wall clock best and median, CPU best."""

    best: float
    median: float
    cpu_best: float


def measure(runs: int, fn: Callable[[], object]) -> Timing:
    """Time ``runs`` calls of ``fn`` (wall clock and this process's CPU time)."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    wall.sort()
    return Timing(wall[0], wall[len(wall) // 2], min(cpu))


def best_of(runs: int, fn: Callable[[], object]) -> tuple[float, float]:
    """(best, median) wall-clock seconds of ``runs`` calls of ``fn``."""
    timing = measure(runs, fn)
    return timing.best, timing.median


#: The report ``--write`` updates in this run (None without ``--write``): groups that make
#: files for it (a plot) write them beside it.
REPORT: Path | None = None


def groups() -> list[str]:
    """Names of the benchmark groups: ``bench/bench_<group>.py``."""
    here = Path(__file__).resolve().parent
    return sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith("bench_")
    )


def collect(group: str) -> list[Benchmark]:
    """The benchmark functions of a group."""
    module = importlib.import_module(f"bench.bench_{group}")
    found = getattr(module, "BENCHMARKS", None)
    if not isinstance(found, list):
        raise SystemExit(f"bench/bench_{group}.py has no BENCHMARKS list")
    return found


def machine() -> str:
    """CPU model, cores and Python version of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {cores} cores, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    text = f"{value:,.3g}"
    if text == "100":  # 99.96 % prevented must not read as 100 %
        return f"{value:,.4g}"
    return text


def render_section(group: str, results: Sequence[BenchResult], command: str) -> str:
    """The Markdown section of one group."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- bench:{group}:start -->",
        f"## {group}",
        "",
        f"- Measured: {when}",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        "",
        "| benchmark | result | target | met | details |",
        "|---|---:|---:|:---:|---|",
    ]
    for r in results:
        target = (
            "" if r.target is None else f"{'≥' if r.higher_is_better else '≤'} {_format(r.target)}"
        )
        met = {True: "yes", False: "**no**", None: "–"}[r.met]
        details = r.details.replace("|", "\\|")
        if r.command:
            details = f"{details} Reproduce: `{r.command}`".strip()
        lines.append(f"| {r.name} | {_format(r.figure)} {r.unit} | {target} | {met} | {details} |")
    for r in results:
        if r.notes:
            lines.extend(["", r.notes.strip()])
    lines.append(f"<!-- bench:{group}:end -->")
    return "\n".join(lines) + "\n"


_HEADER = """# Benchmarks

Measured performance of tollguard, written by `make bench` (`python -m bench.run --write
docs/benchmarks.md`). Each section is one benchmark group (`bench/bench_<group>.py`) with the
machine, date and exact command it was measured with; re-run one group with
`python -m bench.run --only <group> --write docs/benchmarks.md`. The scale groups (throughput,
memory, growth, profile) simulate their carriers once per run (`bench/carriers.py`); set
`TOLLGUARD_BENCH_CARRIERS=DIR` to keep them in DIR for the next run.

"""


def write_report(path: Path, sections: dict[str, str]) -> None:
    """Replace (or add) the given groups' sections in the report, keeping the others."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept: dict[str, str] = {}
    for match in re.finditer(r"<!-- bench:(\w+):start -->.*?<!-- bench:\1:end -->\n?", old, re.S):
        kept[match.group(1)] = (
            match.group(0) if match.group(0).endswith("\n") else match.group(0) + "\n"
        )
    kept.update(sections)
    body = "\n".join(kept[name] for name in sorted(kept))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_HEADER + body, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run benchmarks; returns the exit code: 1 when a benchmark failed (the other groups are
    still measured and written; a group with a failure keeps its last section), or with
    ``--check`` when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", default=[], help="group(s) to run, e.g. core")
    parser.add_argument("--write", type=Path, help="Markdown report to update")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    available = groups()
    if args.list:
        print("\n".join(available))
        return 0
    wanted = [g for item in args.only for g in item.split(",") if g] or available
    unknown = [g for g in wanted if g not in available]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; available: {', '.join(available)}")
    command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    global REPORT
    REPORT = args.write
    sections: dict[str, str] = {}
    missed = False
    failed: list[str] = []
    for group in wanted:
        results: list[BenchResult] = []
        for bench in collect(group):
            name = getattr(bench, "__name__", str(bench))
            print(f"[{group}] {name} ...", flush=True)
            try:
                produced = bench()
            except Exception:  # reported; the other benchmarks still run
                traceback.print_exc()
                failed.append(f"{group}.{name}")
                continue
            for r in produced if isinstance(produced, list) else [produced]:
                results.append(r)
                target = "" if r.target is None else f" (target {_format(r.target)}: "
                target += "" if r.met is None else ("met)" if r.met else "MISSED)")
                print(f"    {r.name}: {_format(r.figure)} {r.unit}{target}", flush=True)
                missed = missed or r.met is False
                if r.notes:
                    print("\n".join(f"      {line}" for line in r.notes.strip().splitlines()))
        if any(f.startswith(f"{group}.") for f in failed):
            print(f"[{group}] not written: a benchmark failed (its last section is kept)")
        else:
            sections[group] = render_section(group, results, command)
    if args.write is not None:
        write_report(args.write, sections)
        print(f"wrote {args.write}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    # Run as the importable module ``bench.run`` so benchmark modules share its BenchResult.
    from bench.run import main as _main

    raise SystemExit(_main())
