"""Replay: feed subscribers, CDRs and SIP events through the engine as if live.

Each CDR becomes a call start (an authorization request), an answer and an end, merged in time
order with the SIP events. A denied call never happens (its end is dropped and nothing is learned
from it); a cut call is billed up to the cut. Outputs are JSON-ready dicts, one per line in the
format of ``docs/detection.md``; the same input always gives byte-identical output.
"""

from __future__ import annotations

import heapq
import json
import math
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tollguard.adapters.readers import (
    CdrFormat,
    detect_cdr_format,
    read_any_cdrs,
    read_sip_events,
    read_subscribers,
)
from tollguard.adapters.readers.cdrs import CallRow, read_cdr_calls
from tollguard.domain.config import EngineConfig
from tollguard.domain.engine import Engine, HomeFacts, RowFacts
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
from tollguard.domain.ipinfo import IpInfo, IpLocator
from tollguard.domain.records import (
    CallDetailRecord,
    QuarantinedRow,
    SipEventKind,
    SipSecurityEvent,
    Subscriber,
)

#: After the last input event, keep time running this long so contact timers and expiries fire.
DRAIN_SECONDS = 3600.0
#: Within this many seconds of 1970 a time in microseconds has its own float (2**53 us), so
#: sorting calls by float start is sorting them by their exact start.
_EXACT_SECONDS = 9.0e9

#: Addresses the engine of a replay keeps looked up (its locator's memo; 65,536 by default, as in
#: the service). A day of a million customers brings about as many addresses; past the bound the
#: memo is cleared and the engine looks them up again (`docs/benchmarks.md`, growth group).
REPLAY_IP_MEMO = 1 << 20

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


@dataclass(slots=True)
class ReplayCalls:
    """A replay's inputs in the engine's terms (what :func:`load_calls` reads): calls as
    :data:`~tollguard.adapters.readers.cdrs.CallRow` tuples sorted by start (stable), SIP events
    sorted by time (stable), and the quarantined rows of every file."""

    subscribers: list[Subscriber]
    calls: list[CallRow]
    sip_events: list[SipSecurityEvent]
    quarantined: list[QuarantinedRow] = field(default_factory=list)


def load_calls(subscribers: Path, cdrs: Path, sip_events: Path | None = None) -> ReplayCalls:
    """:func:`load_inputs` for the replay's hot path: the same calls in the same order, the same
    quarantined rows, without building a :class:`CallDetailRecord` per row."""
    quarantined: list[QuarantinedRow] = []
    subs = _split(read_subscribers(subscribers), quarantined)
    fmt = detect_cdr_format(cdrs)
    calls: list[CallRow]
    if fmt is CdrFormat.TOLLGUARD:
        mark = len(quarantined)
        calls = _split(read_cdr_calls(cdrs), quarantined)
        starts = [c[3] for c in calls]
        if any(starts[i] > starts[i + 1] for i in range(len(starts) - 1)):
            if all(-_EXACT_SECONDS < t < _EXACT_SECONDS for t in starts):
                calls.sort(key=lambda c: c[3])
            else:  # times so far out that floats may tie: sort the records themselves
                del quarantined[mark:]
                calls = _call_rows(_sorted_records(read_any_cdrs(cdrs, fmt), quarantined))
    else:
        calls = _call_rows(_sorted_records(read_any_cdrs(cdrs, fmt), quarantined))
    sips = _split(read_sip_events(sip_events), quarantined) if sip_events is not None else []
    sips.sort(key=lambda e: e.time)
    return ReplayCalls(subs, calls, sips, quarantined)


class StreamFailed(Exception):
    """A streamed replay cannot go on (the CDRs are not in start order, or the reading process
    failed): run :func:`load_calls` and :func:`run_outputs` instead, from the start."""


_BATCH = 8192

#: Calls for :func:`_run_fast`: rows in start order and, for each, its
#: :meth:`RowFacts.home <tollguard.domain.engine.RowFacts.home>` computed ahead (None: not
#: computed, or not a home-country number).
_Batch = tuple[list[CallRow], Iterable[HomeFacts | None]]


#: SIP event rows as sent by the reading process: (time, source_ip, username, event, user_agent).
_SipRow = tuple[float, str, str, str, str]
_SIP_KINDS = {k.value: k for k in SipEventKind}


class _SipFeed:
    """The SIP events of a file in the reading process, handed out in time order up to a time;
    raises :class:`StreamFailed` when the file is not in time order."""

    def __init__(self, path: Path | None) -> None:
        self.items = iter(read_sip_events(path)) if path is not None else iter(())
        self.quarantined: list[QuarantinedRow] = []
        self.next: _SipRow | None = None
        self.last: datetime | None = None

    def up_to(self, limit: float) -> list[_SipRow]:
        out: list[_SipRow] = []
        while True:
            if self.next is None:
                item = next(self.items, None)
                if item is None:
                    return out
                if isinstance(item, QuarantinedRow):
                    self.quarantined.append(item)
                    continue
                if self.last is not None and item.time < self.last:
                    raise StreamFailed("SIP events are not in time order")
                self.last = item.time
                e = item
                self.next = (
                    e.time.timestamp(),
                    e.source_ip,
                    e.username,
                    e.event.value,
                    e.user_agent,
                )
            if self.next[0] > limit:
                return out
            out.append(self.next)
            self.next = None


class _Sender:
    """Sends the reading process's messages from a thread, so that it reads on while the
    replaying process is busy (up to ``ahead`` messages): through the pipe alone it would stay
    about one batch ahead and the replaying process would wait on every slow batch."""

    def __init__(self, conn: Any, ahead: int = 32) -> None:
        from multiprocessing.reduction import ForkingPickler

        self._dumps = ForkingPickler.dumps
        self._conn = conn
        self._queue: queue.Queue[Any] = queue.Queue(ahead)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (blob := self._queue.get()) is not None:
            if self._error is None:  # after an error, drain: send() must not block
                try:
                    self._conn.send_bytes(blob)  # one write, without the GIL
                except BaseException as exc:  # the replaying process is gone
                    self._error = exc

    def send(self, message: object) -> None:
        """Queue a message (pickled here, as ``Connection.send`` would)."""
        if self._error is not None:
            raise self._error
        self._queue.put(self._dumps(message))

    def close(self) -> None:
        """Send what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()


def _read_in_child(
    path: Path,
    sip_path: Path | None,
    conn: Any,
    parent_end: Any = None,
    config: EngineConfig | None = None,
) -> None:
    """The reading process of :class:`StreamedReplay`. Messages: ``("k", RowFacts key)`` first,
    then ``("c", (calls, their home facts, quarantined CDR rows))`` in start order, each batch
    preceded by ``("s", SIP rows)`` up to its last start; at the end the remaining SIP rows,
    ``("q", quarantined SIP rows)`` and ``None``; ``("failed", why)`` on any error (the CDRs
    not in start order included).

    The reading end inherited through ``fork`` is closed first: otherwise, if the replaying
    process dies (``kill -9``), this one would wait forever on a full pipe it reads itself."""
    if parent_end is not None:
        parent_end.close()
    out = _Sender(conn)
    try:
        sips = _SipFeed(sip_path)
        rows: list[CallRow] = []
        homes: list[HomeFacts | None] = []
        bad: list[QuarantinedRow] = []
        last = -math.inf
        # Addresses are looked up here the first time they are seen and the answers sent
        # ahead ("i"), so the engine's (portable) locator finds them memoised.
        locator = IpLocator()
        looked_up: set[str] = set()
        infos: dict[str, IpInfo] = {}
        # What the engine's domestic path would compute of each call, computed here.
        facts = RowFacts.for_config(config or EngineConfig(), locator)
        home = facts.home
        out.send(("k", facts.key))

        def look_up(ip: str) -> None:
            if ip not in looked_up:
                looked_up.add(ip)
                infos[ip] = locator.lookup(ip)

        def send_sips(limit: float) -> None:
            sip_rows = sips.up_to(limit)
            for sip_row in sip_rows:
                look_up(sip_row[1])
            if infos:
                out.send(("i", infos.copy()))
                infos.clear()
            if sip_rows:
                out.send(("s", sip_rows))

        def flush() -> None:
            for row in rows:
                if row[6] is not None:
                    look_up(row[6])
            send_sips(last)
            out.send(("c", (rows, homes, bad)))

        for item in read_cdr_calls(path):
            if item.__class__ is tuple:
                row: CallRow = item  # type: ignore[assignment]
                t0 = row[3]
                if t0 < last:
                    raise StreamFailed("CDRs are not in start order")
                last = t0
                rows.append(row)
                homes.append(home(row[2], t0, row[6]))
            else:
                bad.append(item)  # type: ignore[arg-type]
            if len(rows) + len(bad) >= _BATCH:
                flush()
                rows, homes, bad = [], [], []
        flush()
        send_sips(math.inf)
        out.send(("q", sips.quarantined))
        out.send(None)
    except BaseException as exc:  # reported, then the replay falls back to reading in-process
        with suppress(BaseException):  # unless the replaying process is gone
            out.send(("failed", repr(exc)))
    finally:
        out.close()
        conn.close()


class StreamedReplay:
    """A replay whose CDRs are read and validated by a second process while this one runs the
    engine (``tollguard replay`` on a tollguard-contract CDR file, where ``fork`` exists).

    The outputs are those of :func:`run_outputs` over :func:`load_calls`: the reader is the same,
    and the engine gets the calls in the file's order, which must be start order; when it is not
    (or the reading process fails), :meth:`outputs` raises :class:`StreamFailed` and the caller
    starts over with :func:`load_calls`. :attr:`quarantined` is complete once the outputs are.
    """

    def __init__(
        self,
        subscribers: Path,
        cdrs: Path,
        sip_events: Path | None,
        config: EngineConfig | None = None,
    ) -> None:
        import multiprocessing

        self.subscribers_quarantined: list[QuarantinedRow] = []
        self.subscribers = _split(read_subscribers(subscribers), self.subscribers_quarantined)
        # A missing file or a bad header raises here, in this process.
        for probe in (read_cdr_calls(cdrs), *([read_sip_events(sip_events)] if sip_events else [])):
            getattr(probe, "close", lambda: None)()
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_read_in_child,
            args=(cdrs, sip_events, child, self._conn, config),
            daemon=True,
        )
        self._proc.start()
        child.close()
        self.sips_quarantined: list[QuarantinedRow] = []
        self.cdrs_quarantined: list[QuarantinedRow] = []
        self.calls = 0

    @staticmethod
    def available(cdrs: Path) -> bool:
        """Whether a CDR file can be streamed (tollguard contract, ``fork`` available)."""
        import multiprocessing

        return (
            "fork" in multiprocessing.get_all_start_methods()
            and detect_cdr_format(cdrs) is CdrFormat.TOLLGUARD
        )

    @property
    def quarantined(self) -> list[QuarantinedRow]:
        """Bad rows of every file, in the order :func:`load_calls` gives them."""
        return self.subscribers_quarantined + self.cdrs_quarantined + self.sips_quarantined

    def _calls(self, sips: list[SipEvent], engine: Engine) -> Iterator[_Batch]:
        """The calls in batches as they arrive, with their home facts when the reading
        process computed them as ``engine`` does (the same :class:`RowFacts` key, a portable
        locator); SIP events are appended to ``sips`` before any batch of calls that start at
        or after them."""
        ips = engine.ips
        remember = ips.remember if ips.__class__ is IpLocator and ips.portable else None
        recv = self._conn.recv
        quarantined = self.cdrs_quarantined
        kinds = _SIP_KINDS
        same_facts = False
        n = 0
        try:
            while True:
                try:
                    message = recv()
                except EOFError:
                    raise StreamFailed("the reading process ended early") from None
                if message is None:
                    break
                tag, batch = message
                if tag == "c":
                    rows, homes, bad = batch
                    quarantined += bad
                    n += len(rows)
                    yield rows, homes if same_facts else repeat(None)
                    continue
                if tag == "s":
                    sips.extend(SipEvent(t, i, u, kinds[k], a) for t, i, u, k, a in batch)
                    continue
                if tag == "i":
                    if remember is not None:
                        for ip, info in batch.items():
                            remember(ip, info)
                    continue
                if tag == "k":
                    same_facts = remember is not None and batch == engine.row_facts.key
                    continue
                if tag == "q":
                    self.sips_quarantined = batch
                    continue
                raise StreamFailed(f"the reading process failed: {batch}")
        finally:
            self.calls = n
            self.close()

    def outputs(self, engine: Engine, progress: Progress | None = None) -> Iterator[Output]:
        """The replay's outputs (see the class); ``progress`` gets ``(done, 0)``."""
        for outs in self.batches(engine, progress):
            yield from outs

    def batches(self, engine: Engine, progress: Progress | None = None) -> Iterator[list[Output]]:
        """:meth:`outputs` in lists (as :func:`write_output_batches` takes them)."""
        if not engine.fast:
            raise StreamFailed("the engine's fast paths are off")
        sips: list[SipEvent] = []  # grows as the reading process sends them
        yield from _run_fast(engine, self._calls(sips, engine), sips, progress, 0)

    def close(self) -> None:
        """Stop the reading process (if still running) and release the pipe."""
        self._conn.close()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()


def _sorted_records(
    items: Iterable[CallDetailRecord | QuarantinedRow], quarantined: list[QuarantinedRow]
) -> list[CallDetailRecord]:
    records = _split(items, quarantined)
    if any(records[i].start > records[i + 1].start for i in range(len(records) - 1)):
        records.sort(key=lambda r: r.start)
    return records


def _call_rows(records: Iterable[CallDetailRecord]) -> list[CallRow]:
    return [
        (
            r.call_id,
            r.subscriber_id,
            r.callee,
            r.start.timestamp(),
            r.answer.timestamp() if r.answer is not None else None,
            r.end.timestamp(),
            r.source_ip,
        )
        for r in records
    ]


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


def _events(calls: list[CallRow], sips: list[SipEvent]) -> Iterator[Event]:
    """:func:`events_from` over call rows (the general path of :func:`run_outputs`)."""
    pending: list[tuple[float, int, int, Event]] = []
    si = 0
    seq = 0
    for call_id, sid, callee, t0, answered, t1, ip in calls:
        while si < len(sips) and sips[si].time <= t0:
            e = sips[si]
            heapq.heappush(pending, (e.time, 1, seq, e))
            seq += 1
            si += 1
        while pending and pending[0][0] <= t0:
            yield heapq.heappop(pending)[3]
        yield CallStarted(t0, call_id, sid, callee, ip)
        if answered is not None:
            heapq.heappush(pending, (answered, 2, seq, CallAnswered(answered, call_id)))
            seq += 1
        heapq.heappush(pending, (t1, 3, seq, CallEnded(t1, call_id, answered)))
        seq += 1
    for e in sips[si:]:
        heapq.heappush(pending, (e.time, 1, seq, e))
        seq += 1
    while pending:
        yield heapq.heappop(pending)[3]


def _fast_ok(calls: list[CallRow], sips: list[SipEvent]) -> bool:
    """Whether the event stream of these inputs is in time order with unique call ids: then the
    answers and ends of calls that are neither in progress nor refused are no-ops and
    :func:`_run_fast` may leave them out."""
    last = -math.inf
    for c in calls:
        t0, ta, t1 = c[3], c[4], c[5]
        if not (last <= t0 <= t1) or (ta is not None and not t0 <= ta <= t1):
            return False
        last = t0
    last = -math.inf
    for e in sips:
        if not last <= e.time:
            return False
        last = e.time
    return len({c[0] for c in calls}) == len(calls)


def run_outputs(
    engine: Engine, replay: ReplayCalls, progress: Progress | None = None
) -> Iterator[Output]:
    """Run a replay through ``engine``; yields its outputs in order (the drain included).

    With ``engine.fast`` (the default) and well-ordered input, the calls go straight to
    :meth:`Engine.call_started` and only the answers and ends that can matter (calls in progress
    or refused) are queued; otherwise every event goes through :meth:`Engine.process`. Both give
    the same outputs (``tests/test_replay_equivalence.py``).
    """
    calls = replay.calls
    sips = [_sip(e) for e in replay.sip_events]
    if engine.fast and _fast_ok(calls, sips):
        batches = ((calls[i : i + _BATCH], repeat(None)) for i in range(0, len(calls), _BATCH))
        for outs in _run_fast(engine, batches, sips, progress, len(calls)):
            yield from outs
        return
    total = len(calls)
    done = 0
    last_t: float | None = None
    for event in _events(calls, sips):
        yield from engine.process(event)
        last_t = event.time
        if progress is not None and isinstance(event, CallStarted):
            done += 1
            if done % 10_000 == 0 or done == total:
                progress(done, total)
    if last_t is not None:
        yield from engine.advance(last_t + DRAIN_SECONDS)


def _run_fast(
    engine: Engine,
    batches: Iterable[_Batch],
    sips: list[SipEvent],
    progress: Progress | None,
    total: int,
) -> Iterator[list[Output]]:
    """The outputs of the fast replay loop (see run_outputs), one list per batch of calls and
    one for the drain. A call with home facts (see :class:`_Batch`) goes to
    :meth:`Engine.call_started_home`, any other to :meth:`Engine.call_started`."""
    process = engine.process
    started = engine.call_started
    started_home = engine.call_started_home
    active = engine.active
    dropped = engine.dropped
    push = heapq.heappush
    pop = heapq.heappop
    pending: list[tuple[float, int, int, Event]] = []
    si = seq = done = 0
    last_t = -math.inf
    for rows, homes in batches:
        outs: list[Output] = []
        # homes may be repeat(None): not strict
        for (call_id, sid, callee, t0, answered, t1, ip), home in zip(rows, homes, strict=False):
            while si < len(sips) and sips[si].time <= t0:  # sips may grow between batches
                e = sips[si]
                push(pending, (e.time, 1, seq, e))
                seq += 1
                si += 1
            while pending and pending[0][0] <= t0:
                outs += process(pop(pending)[3])
            if home is None:
                outs += started(t0, call_id, sid, callee, ip)
            else:
                outs += started_home(t0, call_id, sid, callee, ip, home)
            if t1 > last_t:
                last_t = t1
            if call_id in active:
                if answered is not None:
                    push(pending, (answered, 2, seq, CallAnswered(answered, call_id)))
                    seq += 1
                push(pending, (t1, 3, seq, CallEnded(t1, call_id, answered)))
                seq += 1
            elif call_id in dropped:  # its answer is a no-op; its end forgets the call id
                push(pending, (t1, 3, seq, CallEnded(t1, call_id, answered)))
                seq += 1
            done += 1
            if progress is not None and (done % 10_000 == 0 or done == total):
                progress(done, total)
        yield outs
    outs = []
    for e in sips[si:]:
        push(pending, (e.time, 1, seq, e))
        seq += 1
    while pending:
        outs += process(pop(pending)[3])
    if sips and sips[-1].time > last_t:
        last_t = sips[-1].time
    if done or sips:
        # The general path's last event (an end left out here, perhaps) set the engine's clock.
        engine.now = max(engine.now, last_t)
        outs += engine.advance(last_t + DRAIN_SECONDS)
    yield outs


_TWO_DIGITS = tuple(f"{i:02d}" for i in range(60))
_MINUTES_SECONDS = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))
_MINUTES_KEPT = 4096


class OutputFormatter:
    """Turns engine outputs into the replay's JSON objects (times in the local zone)."""

    def __init__(self, timezone: str | tzinfo = "Asia/Tokyo") -> None:
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._last_t: float | None = None
        self._last_s = ""
        # minute (POSIX seconds // 60) -> the text before and after its seconds, or None when
        # the minute's UTC offset changes or is not whole minutes
        self._minutes: dict[int, tuple[str, str] | None] = {}
        # the same per hour (POSIX seconds // 3600), when the offset is whole hours
        self._hours: dict[int, tuple[str, str] | None] = {}

    def time(self, t: float) -> str:
        """ISO 8601 with offset, whole seconds."""
        if t != self._last_t:
            self._last_t = t
            self._last_s = self._time(t)
        return self._last_s

    def _time(self, t: float) -> str:
        try:
            whole = int(t)
        except (OverflowError, ValueError):
            whole = None
        if whole is not None and whole == t:
            hour, into = divmod(whole, 3600)
            try:
                around = self._hours[hour]
            except KeyError:
                around = self._hour(hour)
            if around is not None:
                return around[0] + _MINUTES_SECONDS[into] + around[1]
            minute, second = divmod(whole, 60)
            try:
                parts = self._minutes[minute]
            except KeyError:
                parts = self._minute(minute)
            if parts is not None:
                return parts[0] + _TWO_DIGITS[second] + parts[1]
        return datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")

    def _hour(self, hour: int) -> tuple[str, str] | None:
        """The text of an hour's times around their minutes and seconds (see :meth:`_minute`),
        when its UTC offset is constant and whole hours."""
        parts: tuple[str, str] | None = None
        try:
            first = datetime.fromtimestamp(hour * 3600, self.tz)
            last = datetime.fromtimestamp(hour * 3600 + 3599, self.tz)
        except (OverflowError, OSError, ValueError):
            pass
        else:
            offset = first.utcoffset()
            whole_hours = offset is not None and offset.total_seconds() % 3600 == 0
            if whole_hours and offset == last.utcoffset():
                text = first.isoformat(timespec="seconds")
                if text[13:19] == ":00:00":
                    parts = (text[:14], text[19:])
        if len(self._hours) >= _MINUTES_KEPT:
            self._hours.clear()
        self._hours[hour] = parts
        return parts

    def _minute(self, minute: int) -> tuple[str, str] | None:
        """The text of a minute's times around their seconds: all of them are
        ``fromtimestamp(t).isoformat(timespec="seconds")`` with these around ``t % 60``."""
        parts: tuple[str, str] | None = None
        try:
            first = datetime.fromtimestamp(minute * 60, self.tz)
            last = datetime.fromtimestamp(minute * 60 + 59, self.tz)
        except (OverflowError, OSError, ValueError):
            pass
        else:
            offset = first.utcoffset()
            if offset == last.utcoffset() and (offset is None or offset.total_seconds() % 60 == 0):
                text = first.isoformat(timespec="seconds")
                if text[16:19] == ":00":
                    parts = (text[:17], text[19:])
        if len(self._minutes) >= _MINUTES_KEPT:
            self._minutes.clear()
        self._minutes[minute] = parts
        return parts

    def line(self, o: Output) -> str:
        """One output as its JSON line (without the newline): exactly
        ``json.dumps(self.to_dict(o), ensure_ascii=False, separators=(",", ":"))``."""
        if o.__class__ is Decision and not o.reasons:  # type: ignore[union-attr]
            call_id = o.call_id  # type: ignore[union-attr]
            if '"' in call_id or "\\" in call_id or not call_id.isprintable():
                call_id = json.dumps(call_id, ensure_ascii=False)
            else:
                call_id = '"' + call_id + '"'
            return (
                '{"time":"'
                + self.time(o.time)
                + '","kind":"call","call_id":'
                + call_id
                + (
                    ',"decision":"allow","reasons":[]}'
                    if o.allow  # type: ignore[union-attr]
                    else ',"decision":"deny","reasons":[]}'
                )
            )
        return json.dumps(self.to_dict(o), ensure_ascii=False, separators=(",", ":"))

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
    if engine.fast:
        replay = ReplayCalls(
            inputs.subscribers, _call_rows(inputs.cdrs), inputs.sip_events, inputs.quarantined
        )
        for o in run_outputs(engine, replay, progress):
            yield fmt.to_dict(o)
        return
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
    replay = load_calls(subscribers, cdrs, sip_events)
    engine = Engine(
        replay.subscribers, cfg, policy=policy, ip_locator=IpLocator(memo_size=REPLAY_IP_MEMO)
    )
    fmt = OutputFormatter(engine.config.timezone)
    for o in run_outputs(engine, replay, progress):
        yield fmt.to_dict(o)


def output_key(o: Output) -> str:
    """What the replay command counts an output as: ``call allow``, ``action block_ip``..."""
    if isinstance(o, Decision):
        return "call allow" if o.allow else "call deny"
    if isinstance(o, Action):
        return f"action {o.action.value}"
    return "terminate" if isinstance(o, Terminate) else "alert"


def write_outputs(
    outputs: Iterable[Output],
    path: Path,
    formatter: OutputFormatter,
    counts: Counter[str] | None = None,
) -> int:
    """Write engine outputs one JSON line each (as :func:`write_jsonl` writes their dicts);
    returns the number of lines. ``counts`` (if given) counts them by :func:`output_key`."""
    return write_output_batches(((o,) for o in outputs), path, formatter, counts)


_ALLOW_LINE = '{"time":"%s","kind":"call","call_id":"%s","decision":"allow","reasons":[]}'
_DENY_LINE = '{"time":"%s","kind":"call","call_id":"%s","decision":"deny","reasons":[]}'


def write_output_batches(
    batches: Iterable[Iterable[Output]],
    path: Path,
    formatter: OutputFormatter,
    counts: Counter[str] | None = None,
) -> int:
    """:func:`write_outputs` of outputs given in batches (as the engine returns them). Plain
    decisions (no reasons, an ordinary call id) are written from a template: the line
    :meth:`OutputFormatter.line` gives."""
    n = 0
    line = formatter.line
    time = formatter.time
    hours = formatter._hours  # the per-hour texts of formatter.time, read here without a call
    minutes_seconds = _MINUTES_SECONDS
    last_t: float | None = None
    text = ""
    decision = Decision
    decisions = [0, 0]  # deny, allow (counted apart: they are most of the lines)
    allow_line, deny_line = _ALLOW_LINE, _DENY_LINE
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        write = fh.write
        buffer: list[str] = []
        add = buffer.append
        for batch in batches:
            for o in batch:
                if o.__class__ is decision:
                    allow = o.allow  # type: ignore[union-attr]
                    decisions[allow] += 1
                    call_id = o.call_id  # type: ignore[union-attr]
                    if (
                        not o.reasons  # type: ignore[union-attr]
                        and call_id.isprintable()
                        and '"' not in call_id
                        and "\\" not in call_id
                    ):
                        t = o.time
                        if t != last_t:
                            last_t = t
                            around = None
                            if t.__class__ is float and t.is_integer():
                                hour, into = divmod(int(t), 3600)
                                around = hours.get(hour)
                            if around is None:
                                text = time(t)
                            else:  # as formatter.time(t) gives it
                                text = around[0] + minutes_seconds[into] + around[1]
                        add((allow_line if allow else deny_line) % (text, call_id))
                    else:
                        add(line(o))
                else:
                    add(line(o))
                    if counts is not None:
                        counts[output_key(o)] += 1
            if len(buffer) >= 4096:
                n += len(buffer)
                buffer.append("")
                write("\n".join(buffer))
                buffer.clear()
        if buffer:
            n += len(buffer)
            buffer.append("")
            write("\n".join(buffer))
    if counts is not None:
        for allow, key in ((False, "call deny"), (True, "call allow")):
            if decisions[allow]:
                counts[key] += decisions[allow]
    return n


def write_jsonl(outputs: Iterable[dict[str, Any]], path: Path) -> int:
    """Write outputs one JSON object per line; returns the number of lines."""
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for d in outputs:
            fh.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
            n += 1
    return n
