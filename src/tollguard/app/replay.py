"""Replay: feed subscribers, CDRs and SIP events through the engine as if live.

Each CDR becomes a call start (an authorization request), an answer and an end, merged in time
order with the SIP events. A denied call never happens (its end is dropped and nothing is learned
from it); a cut call is billed up to the cut. Outputs are JSON-ready dicts, one per line in the
format of ``docs/detection.md``; the same input always gives byte-identical output.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tollguard.adapters.readers import read_any_cdrs, read_sip_events, read_subscribers
from tollguard.domain.config import EngineConfig
from tollguard.domain.engine import Engine
from tollguard.domain.events import (
    Action,
    Alert,
    CallAnswered,
    CallEnded,
    CallStarted,
    Decision,
    Event,
    Output,
    SipEvent,
    Terminate,
)
from tollguard.domain.records import (
    CallDetailRecord,
    QuarantinedRow,
    SipSecurityEvent,
    Subscriber,
)

#: After the last input event, keep time running this long so contact timers and expiries fire.
DRAIN_SECONDS = 3600.0

Progress = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(slots=True)
class ReplayInputs:
    """Everything a replay reads, validated; bad rows are kept aside, never lost silently."""

    subscribers: list[Subscriber]
    cdrs: list[CallDetailRecord]
    sip_events: list[SipSecurityEvent]
    quarantined: list[QuarantinedRow] = field(default_factory=list)


def load_inputs(subscribers: Path, cdrs: Path, sip_events: Path | None = None) -> ReplayInputs:
    """Read and validate the input files; CDRs sorted by start, SIP events by time (stable)."""
    quarantined: list[QuarantinedRow] = []
    subs = _split(read_subscribers(subscribers), quarantined)
    records = _split(read_any_cdrs(cdrs), quarantined)
    if any(records[i].start > records[i + 1].start for i in range(len(records) - 1)):
        records.sort(key=lambda r: r.start)
    sips = _split(read_sip_events(sip_events), quarantined) if sip_events is not None else []
    sips.sort(key=lambda e: e.time)
    return ReplayInputs(subs, records, sips, quarantined)


def _split(items: Iterable[T | QuarantinedRow], quarantined: list[QuarantinedRow]) -> list[T]:
    """The good records of a reader, in order; its bad rows are appended to ``quarantined``."""
    good: list[T] = []
    for item in items:
        if isinstance(item, QuarantinedRow):
            quarantined.append(item)
        else:
            good.append(item)
    return good


def events_from(inputs: ReplayInputs) -> Iterator[Event]:
    """The time-ordered event stream of a replay.

    Ties are broken by kind (start, SIP event, answer, end) and then by input order, so the stream
    is the same on every run.
    """
    pending: list[tuple[float, int, int, Event]] = []
    sips = inputs.sip_events
    si = 0
    seq = 0
    for rec in inputs.cdrs:
        t0 = rec.start.timestamp()
        while si < len(sips) and sips[si].time.timestamp() <= t0:
            e = sips[si]
            heapq.heappush(pending, (e.time.timestamp(), 1, seq, _sip(e)))
            seq += 1
            si += 1
        while pending and pending[0][0] <= t0:
            yield heapq.heappop(pending)[3]
        yield CallStarted(t0, rec.call_id, rec.subscriber_id, rec.callee, rec.source_ip, rec.caller)
        answered = rec.answer.timestamp() if rec.answer is not None else None
        if answered is not None:
            heapq.heappush(pending, (answered, 2, seq, CallAnswered(answered, rec.call_id)))
            seq += 1
        t1 = rec.end.timestamp()
        heapq.heappush(pending, (t1, 3, seq, CallEnded(t1, rec.call_id, answered)))
        seq += 1
    for e in sips[si:]:
        heapq.heappush(pending, (e.time.timestamp(), 1, seq, _sip(e)))
        seq += 1
    while pending:
        yield heapq.heappop(pending)[3]


def _sip(e: SipSecurityEvent) -> SipEvent:
    return SipEvent(e.time.timestamp(), e.source_ip, e.username, e.event, e.user_agent)


class OutputFormatter:
    """Turns engine outputs into the replay's JSON objects (times in the local zone)."""

    def __init__(self, timezone: str | tzinfo = "Asia/Tokyo") -> None:
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._last_t: float | None = None
        self._last_s = ""

    def time(self, t: float) -> str:
        """ISO 8601 with offset, whole seconds."""
        if t != self._last_t:
            self._last_t = t
            self._last_s = datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")
        return self._last_s

    def to_dict(self, o: Output) -> dict[str, Any]:
        """One output as a JSON-ready dict with a stable key order."""
        if isinstance(o, Decision):
            return {
                "time": self.time(o.time),
                "kind": "call",
                "call_id": o.call_id,
                "decision": "allow" if o.allow else "deny",
                "reasons": list(o.reasons),
            }
        if isinstance(o, Terminate):
            return {
                "time": self.time(o.time),
                "kind": "terminate",
                "call_id": o.call_id,
                "reason": o.reason,
                "subscriber_id": o.subscriber_id,
            }
        if isinstance(o, Action):
            d: dict[str, Any] = {
                "time": self.time(o.time),
                "kind": "action",
                "action": o.action.value,
            }
            for key in ("subscriber_id", "country", "prefix", "ip"):
                value = getattr(o, key)
                if value is not None:
                    d[key] = value
            if o.until is not None and o.until != float("inf"):
                d["until"] = self.time(o.until)
            d["reason"] = o.reason
            d["actor"] = o.actor
            d["evidence"] = _jsonable(o.evidence)
            return d
        assert isinstance(o, Alert)
        return {
            "time": self.time(o.time),
            "kind": "alert",
            "detector": o.detector,
            "severity": o.severity.value,
            "subscriber_id": o.subscriber_id,
            "evidence": _jsonable(o.evidence),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def run_engine(
    engine: Engine,
    inputs: ReplayInputs,
    formatter: OutputFormatter | None = None,
    progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """Run ``inputs`` through ``engine``; yields output dicts in order."""
    fmt = formatter or OutputFormatter(engine.config.timezone)
    total = len(inputs.cdrs)
    done = 0
    last_t: float | None = None
    for event in events_from(inputs):
        for o in engine.process(event):
            yield fmt.to_dict(o)
        last_t = event.time
        if progress is not None and isinstance(event, CallStarted):
            done += 1
            if done % 10_000 == 0 or done == total:
                progress(done, total)
    if last_t is not None:
        for o in engine.advance(last_t + DRAIN_SECONDS):
            yield fmt.to_dict(o)


def replay_files(
    subscribers: Path,
    cdrs: Path,
    sip_events: Path | None = None,
    *,
    config: Path | EngineConfig | None = None,
    policy: str = "tollguard",
    progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """Replay files through a new engine; yields the output dicts (see module docs)."""
    cfg = (
        config
        if isinstance(config, EngineConfig)
        else (EngineConfig.load(config) if config is not None else EngineConfig())
    )
    inputs = load_inputs(subscribers, cdrs, sip_events)
    engine = Engine(inputs.subscribers, cfg, policy=policy)
    yield from run_engine(engine, inputs, progress=progress)


def write_jsonl(outputs: Iterable[dict[str, Any]], path: Path) -> int:
    """Write outputs one JSON object per line; returns the number of lines."""
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for d in outputs:
            fh.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
            n += 1
    return n
