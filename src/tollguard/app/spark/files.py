"""Cutting time-ordered CSV files into consecutive time slices (a watched folder's files).

Tests and benchmarks feed the streaming job one slice per micro-batch; a carrier's switch
usually writes such files itself (one per interval).
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


def read_timed(path: Path, column: str) -> tuple[list[str], list[tuple[float, list[str]]]]:
    """A CSV file's header and its rows with the POSIX time of ``column`` (unreadable times
    are kept with the previous row's time, so the job quarantines them as it would)."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        i = header.index(column)
        rows: list[tuple[float, list[str]]] = []
        last = float("-inf")
        for row in reader:
            with contextlib.suppress(ValueError, IndexError):
                last = datetime.fromisoformat(row[i]).timestamp()
            rows.append((last, row))
    return header, rows


def slices(
    rows: list[tuple[float, list[str]]], start: float, step: float
) -> Iterator[tuple[float, list[list[str]]]]:
    """Consecutive slices ``[start + k*step, start + (k+1)*step)`` of time-ordered rows."""
    lo, i = start, 0
    while i < len(rows):
        hi = lo + step
        chunk: list[list[str]] = []
        while i < len(rows) and rows[i][0] < hi:
            chunk.append(rows[i][1])
            i += 1
        yield lo, chunk
        lo = hi


def write_csv(directory: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    """Write a CSV file into a watched folder atomically (aside, then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    path = directory / name
    os.replace(tmp, path)
    return path


def heartbeat(directory: Path, name: str, t: float) -> Path:
    """A SIP-event file whose one row (event ``tick``) moves the job's event time to ``t``."""
    when = datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
    header = ["time", "source_ip", "username", "event", "user_agent"]
    return write_csv(directory, name, header, [[when, "0.0.0.0", "", "tick", ""]])
