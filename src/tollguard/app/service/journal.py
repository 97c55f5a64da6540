"""The live engine's journal: every event it processes since its state was last saved.

Each event is written (one ``write`` to a file opened for appending) before the engine processes
it, so it is in the operating system's hands when the answer leaves: a process killed at any
moment (``kill -9``) loses nothing. At restart the service restores the last saved state and
processes the journal's later events again; the engine being deterministic, it ends where it was.

A journal file is ``journal-<first seq>.jsonl``; a line is a JSON array ``[seq, kind, fields...]``.
Saving the state rotates to a new file; files the saved state covers are then deleted. A torn last
line (the process died in the middle of a write) is ignored: its event had not been processed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from tollguard.domain.events import (
    ActionKind,
    CallAnswered,
    CallEnded,
    CallReported,
    CallStarted,
    ContactOutcome,
    ContactResult,
    Event,
    ManualControl,
    SipEvent,
    Tick,
)
from tollguard.domain.records import SipEventKind

PREFIX = "journal-"
SUFFIX = ".jsonl"


class JournalError(Exception):
    """A journal line that cannot be read (not a torn last line): names file and line."""


@dataclass(frozen=True, slots=True)
class CdrSeen:
    """A CDR reported after the fact is being metered (so a resent one is not metered twice)."""

    time: float
    call_id: str


def encode(seq: int, event: Event | CdrSeen) -> list[object]:
    """The journal line of an event (a :class:`Tick` stands for ``Engine.advance``)."""
    if isinstance(event, CdrSeen):
        return [seq, "d", event.time, event.call_id]
    if isinstance(event, CallStarted):
        return [seq, "s", event.time, event.call_id, event.subscriber_id, event.callee,
                event.source_ip, event.caller]  # fmt: skip
    if isinstance(event, CallAnswered):
        return [seq, "a", event.time, event.call_id]
    if isinstance(event, CallEnded):
        return [seq, "e", event.time, event.call_id, event.answered_at]
    if isinstance(event, CallReported):
        return [seq, "r", event.time, event.call_id, event.subscriber_id, event.callee,
                event.source_ip, event.billable_seconds]  # fmt: skip
    if isinstance(event, Tick):
        return [seq, "t", event.time]
    if isinstance(event, SipEvent):
        return [seq, "p", event.time, event.source_ip, event.username, event.event.value,
                event.user_agent]  # fmt: skip
    if isinstance(event, ContactOutcome):
        return [seq, "c", event.time, event.subscriber_id, event.result.value, event.channel,
                event.actor, event.note]  # fmt: skip
    return [seq, "m", event.time, event.action.value, event.subject, event.reason, event.actor,
            event.until, event.subscriber_id]  # fmt: skip


def decode(row: list[object]) -> tuple[int, Event | CdrSeen]:
    """The event of a journal line."""
    seq, kind, t, *f = row
    if not isinstance(seq, int) or not isinstance(t, int | float):
        raise ValueError("sequence number and time must be numbers")
    time = float(t)
    a = f
    event: Event | CdrSeen
    if kind == "s":
        event = CallStarted(time, str(a[0]), str(a[1]), str(a[2]), _opt(a[3]), str(a[4]))
    elif kind == "a":
        event = CallAnswered(time, str(a[0]))
    elif kind == "e":
        event = CallEnded(time, str(a[0]), _num(a[1]))
    elif kind == "r":
        event = CallReported(time, str(a[0]), str(a[1]), str(a[2]), _opt(a[3]), float(a[4]))  # type: ignore[arg-type]
    elif kind == "t":
        event = Tick(time)
    elif kind == "d":
        event = CdrSeen(time, str(a[0]))
    elif kind == "p":
        event = SipEvent(time, str(a[0]), str(a[1]), SipEventKind(str(a[2])), str(a[3]))
    elif kind == "c":
        event = ContactOutcome(
            time, str(a[0]), ContactResult(str(a[1])), str(a[2]), str(a[3]), str(a[4])
        )
    elif kind == "m":
        event = ManualControl(
            time, ActionKind(str(a[0])), str(a[1]), str(a[2]), str(a[3]), _num(a[4]), _opt(a[5])
        )
    else:
        raise ValueError(f"unknown event kind {kind!r}")
    return seq, event


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


class EventJournal:
    """Append-only files of events, numbered from 1 without gaps."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # The last sequence number: in the newest file (named by its first one, so an empty
        # newest file still tells); the older files are read when the journal is replayed.
        files = self._files()
        self.seq = files[-1][0] - 1 if files else 0
        for _, row in self._rows(last_only=True):
            self.seq = max(self.seq, int(row[0]))  # type: ignore[call-overload]
        self._fd: int | None = None

    def _files(self) -> list[tuple[int, Path]]:
        found = []
        for p in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
            start = p.name[len(PREFIX) : -len(SUFFIX)]
            if start.isdigit():
                found.append((int(start), p))
        return sorted(found)

    def _rows(self, *, last_only: bool = False) -> Iterator[tuple[str, list[object]]]:
        files = self._files()
        first = len(files) - 1 if last_only and files else 0
        for n, (_, path) in enumerate(files[first:], start=first):
            data = path.read_bytes()
            lines = data.split(b"\n")
            for i, line in enumerate(lines, start=1):
                if not line:
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, list) or len(row) < 3:
                        raise ValueError("not a journal line")
                except ValueError as exc:
                    torn = n == len(files) - 1 and i == len(lines) and not data.endswith(b"\n")
                    if torn:
                        continue  # the process died while writing it: never processed
                    raise JournalError(f"{path}:{i}: {exc}") from exc
                yield f"{path}:{i}", row

    def append(self, event: Event | CdrSeen) -> int:
        """Write an event before it is processed; returns its sequence number."""
        if self._fd is None:
            self._open(self.seq + 1)
        self.seq += 1
        line = json.dumps(encode(self.seq, event), ensure_ascii=False, separators=(",", ":"))
        assert self._fd is not None
        os.write(self._fd, line.encode("utf-8") + b"\n")
        return self.seq

    def _open(self, start: int) -> None:
        path = self.directory / f"{PREFIX}{start:012d}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def rotate(self) -> int:
        """Start a new file (when the state is saved); returns the last sequence number."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        return self.seq

    def after(self, seq: int) -> Iterator[tuple[int, Event | CdrSeen]]:
        """The events after ``seq``, in order."""
        for where, row in self._rows():
            if int(row[0]) <= seq:  # type: ignore[call-overload]
                continue
            try:
                yield decode(row)
            except (ValueError, IndexError, TypeError) as exc:
                raise JournalError(f"{where}: {exc}") from exc

    def prune(self, covered: int) -> int:
        """Delete the files whose events are all at or before ``covered``; returns how many."""
        files = self._files()
        removed = 0
        for (_, path), (next_start, _) in pairwise(files):
            if next_start - 1 <= covered:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Close the current file."""
        self.rotate()
