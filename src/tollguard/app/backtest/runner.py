"""Running a backtest end to end: replay each policy with the engine, score, write the report.

The engine is imported lazily (:func:`tollguard.app.replay.replay_files`), so scoring recorded
replay outputs (JSONL files) works without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tollguard.app.backtest.pricing import Rater
from tollguard.app.backtest.report import write_outputs
from tollguard.app.backtest.scoring import NO_CONTROL, BacktestResult, Output, score_policies
from tollguard.app.backtest.truth import Truth, load_truth

DEFAULT_POLICIES = ("tollguard", "reference")

Wrap = Callable[[str, Iterable[Output]], Iterable[Output]]
"""Hook around each policy's outputs as they are consumed (progress display)."""


class EngineMissingError(RuntimeError):
    """The replay engine (``tollguard.app.replay``) is not available."""


def replay_outputs(data_dir: Path, policy: str, config: Path | None = None) -> Iterator[Output]:
    """The engine's replay of a data directory under ``policy``, started when first iterated."""
    try:
        from tollguard.app.replay import replay_files
    except ImportError as error:
        raise EngineMissingError(
            "the replay engine (tollguard.app.replay) is not available; "
            "score recorded outputs with --replay NAME=FILE.jsonl"
        ) from error
    sip = data_dir / "sip_events.csv"
    yield from replay_files(
        data_dir / "subscribers.csv",
        data_dir / "cdrs.csv",
        sip if sip.exists() else None,
        config=config,
        policy=policy,
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL replay output file (blank lines skipped)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if isinstance(record, dict):
                    yield record


def _tee(outputs: Iterable[Output], handle: IO[str]) -> Iterator[Output]:
    """Pass records through while writing them as JSONL."""
    for record in outputs:
        handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n")
        yield record


@dataclass(frozen=True, slots=True)
class BacktestFiles:
    """What :func:`run_backtest` wrote."""

    summary: Path
    report: Path
    replays: tuple[Path, ...]


def run_backtest(
    data_dir: Path,
    out_dir: Path,
    policies: Sequence[str] = DEFAULT_POLICIES,
    *,
    config: Path | None = None,
    recorded: Mapping[str, Path] | None = None,
    truth: Truth | None = None,
    rater: Rater | None = None,
    wrap: Wrap | None = None,
    save_replays: bool = False,
) -> tuple[BacktestResult, BacktestFiles]:
    """Replay ``policies`` (plus any ``recorded`` JSONL outputs), score them, write the report.

    The no-control baseline is always included. With ``save_replays`` each policy's outputs are
    also written to ``out_dir/replay-<policy>.jsonl``.
    """
    loaded = truth if truth is not None else load_truth(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, Iterable[Output]] = {}
    handles: list[IO[str]] = []
    replays: list[Path] = []
    sources: list[tuple[str, Iterable[Output]]] = [
        (name, replay_outputs(data_dir, name, config)) for name in policies if name != NO_CONTROL
    ]
    sources += [(name, read_jsonl(path)) for name, path in (recorded or {}).items()]
    try:
        for name, outputs in sources:
            stream: Iterable[Output] = outputs
            if save_replays:
                target = out_dir / f"replay-{name}.jsonl"
                handle = target.open("w", encoding="utf-8")
                handles.append(handle)
                replays.append(target)
                stream = _tee(stream, handle)
            runs[name] = wrap(name, stream) if wrap is not None else stream
        result = score_policies(loaded, runs, rater=rater)
    finally:
        for opened in handles:
            opened.close()
    summary, report = write_outputs(result, out_dir)
    return result, BacktestFiles(summary=summary, report=report, replays=tuple(replays))
