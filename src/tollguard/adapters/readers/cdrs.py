"""Reader of the tollguard CDR contract CSV (``docs/formats.md``, "CDR CSV").

This is the hot path of replays (millions of rows), so the row parser is written for speed: plain
``str.split`` unless the line has quotes, ``datetime.fromisoformat``, dictionary lookups for the
disposition, and caches for subscriber ids and IP addresses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import IO, Final

from tollguard.adapters.readers._common import (
    DUPLICATE_CALL_ID,
    MAX_FIELD_CHARS,
    MAX_LINE_BYTES,
    NAIVE_TIME,
    IpValidator,
    ReadSummary,
    RowError,
    check_fields,
    clip,
    is_dial_string,
    iter_lines,
    open_binary,
    read_header,
    split_csv_line,
)
from tollguard.domain.records import CallDetailRecord, Disposition, QuarantinedRow

#: The columns of the CDR contract, in their canonical order.
CDR_COLUMNS: Final = (
    "call_id",
    "subscriber_id",
    "caller",
    "callee",
    "start",
    "answer",
    "end",
    "disposition",
    "source_ip",
)
#: Longest subscriber id and caller, in characters.
MAX_ID_CHARS: Final = 64

_DISPOSITIONS: Final = {d.value: d for d in Disposition}


def valid_id(value: str) -> bool:
    """A subscriber id: 1 to 64 characters, no whitespace."""
    return 0 < len(value) <= MAX_ID_CHARS and value.split() == [value]


def read_cdrs(
    path: Path | str | os.PathLike[str],
    *,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """Read a CDR contract CSV: one :class:`CallDetailRecord` per good row, else a quarantined row.

    With ``dedupe`` (default) a call_id already accepted earlier in this file is quarantined with
    reason ``"duplicate call_id"`` (the first occurrence wins). The header is checked at once;
    :class:`InputFileError` is raised for a missing file or an unusable header.
    """
    path = Path(path)
    stream = open_binary(path)
    try:
        lines = iter_lines(stream, MAX_LINE_BYTES)
        names = read_header(path, lines, CDR_COLUMNS)
    except BaseException:
        stream.close()
        raise
    return _loop(str(path), stream, lines, tuple(names), dedupe, summary)


class _RowParser:
    """Validates the fields of one CDR row into a record, or raises :class:`RowError`.

    Holds the per-file state: subscriber ids already checked, call ids already accepted (with
    ``dedupe``) and the IP address cache.
    """

    __slots__ = ("canonical", "dedupe", "ip_of", "known_subscribers", "pick", "seen")

    def __init__(self, names: tuple[str, ...], dedupe: bool) -> None:
        self.pick = itemgetter(*(names.index(column) for column in CDR_COLUMNS))
        self.canonical = names == CDR_COLUMNS
        self.dedupe = dedupe
        self.seen: set[str] = set()
        self.known_subscribers: set[str] = set()
        self.ip_of = IpValidator()

    def __call__(self, fields: list[str]) -> CallDetailRecord:
        (call_id, subscriber_id, caller, callee, start_s, answer_s, end_s, disp_s, ip_s) = (
            fields if self.canonical else self.pick(fields)
        )
        if not call_id or " " in call_id:
            raise RowError("call_id", "is empty" if not call_id else "contains spaces")
        if subscriber_id not in self.known_subscribers:
            if not valid_id(subscriber_id):
                raise RowError("subscriber_id", "must be 1-64 characters without spaces")
            self.known_subscribers.add(subscriber_id)
        if not caller or len(caller) > MAX_ID_CHARS:
            raise RowError("caller", "is empty" if not caller else "longer than 64 characters")
        if not is_dial_string(callee):
            raise RowError("callee", "not a dial string (+E.164, or 3-24 digits as dialled)")
        fromiso = datetime.fromisoformat
        try:
            start = fromiso(start_s)
        except ValueError:
            raise RowError("start", f"not an ISO 8601 time: {start_s[:40]!r}") from None
        try:
            end = fromiso(end_s)
        except ValueError:
            raise RowError("end", f"not an ISO 8601 time: {end_s[:40]!r}") from None
        if start.tzinfo is None:
            raise RowError("start", NAIVE_TIME)
        if end.tzinfo is None:
            raise RowError("end", NAIVE_TIME)
        disposition = _DISPOSITIONS.get(disp_s)
        if disposition is None:
            raise RowError("disposition", "must be ANSWERED, NO ANSWER, BUSY or FAILED")
        if end < start:
            raise RowError("end", "end is before start")
        answered = Disposition.ANSWERED
        if answer_s:
            try:
                answered_at = fromiso(answer_s)
            except ValueError:
                raise RowError("answer", f"not an ISO 8601 time: {answer_s[:40]!r}") from None
            if answered_at.tzinfo is None:
                raise RowError("answer", NAIVE_TIME)
            if disposition is not answered:
                raise RowError("answer", f"{disp_s} call must have an empty answer time")
            if answered_at < start:
                raise RowError("answer", "answer is before start")
            if end < answered_at:
                raise RowError("end", "end is before answer")
            answer: datetime | None = answered_at
        else:
            answer = None
            if disposition is answered:
                raise RowError("answer", "ANSWERED call without answer time")
        if ip_s:
            source_ip = self.ip_of.cache.get(ip_s) or self.ip_of(ip_s)
            if source_ip is None:
                raise RowError("source_ip", "not an IPv4 or IPv6 address")
        else:
            source_ip = None
        if self.dedupe:
            if call_id in self.seen:
                raise RowError("call_id", DUPLICATE_CALL_ID)
            self.seen.add(call_id)
        return CallDetailRecord(
            call_id, subscriber_id, caller, callee, start, answer, end, disposition, source_ip
        )


def _loop(
    source: str,
    stream: IO[bytes],
    lines: Iterator[tuple[int, str, str | None]],
    names: tuple[str, ...],
    dedupe: bool,
    summary: ReadSummary | None,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """The row loop (see :func:`drive_csv` for the generic version)."""
    ncols = len(names)
    parse = _RowParser(names, dedupe)
    max_field = MAX_FIELD_CHARS
    rows_read = accepted = quarantined = duplicates = 0
    try:
        for number, text, error in lines:
            if error is not None:
                rows_read += 1
                quarantined += 1
                yield QuarantinedRow(source, number, None, error, text)
                continue
            if not text or text.isspace():
                continue
            rows_read += 1
            try:
                fields = text.split(",") if '"' not in text else split_csv_line(text)
                if len(fields) != ncols:
                    raise RowError(None, f"expected {ncols} fields, got {len(fields)}")
                if len(text) > max_field or not text.isprintable():
                    check_fields(names, fields)
                record = parse(fields)
            except RowError as exc:
                quarantined += 1
                if exc.reason == DUPLICATE_CALL_ID and exc.field == "call_id":
                    duplicates += 1
                yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
                continue
            accepted += 1
            yield record
    finally:
        stream.close()
        if summary is not None:
            summary.rows_read += rows_read
            summary.accepted += accepted
            summary.quarantined += quarantined
            summary.duplicates += duplicates


#: A CDR as the replay needs it: (call_id, subscriber_id, callee, start, answer, end,
#: source_ip), times in POSIX seconds, ``answer`` ``None`` when unanswered.
CallRow = tuple[str, str, str, float, float | None, float, str | None]

#: "MM:SS" -> seconds into the hour, for every valid minute and second.
_MINUTE_SECOND: Final = {f"{m:02d}:{s:02d}": 60 * m + s for m in range(60) for s in range(60)}


class _Stamps:
    """POSIX seconds of ``YYYY-MM-DDTHH:MM:SS+HH:MM`` times (the contract's usual form),
    parsed once per date, hour and offset: exactly ``datetime.fromisoformat(s).timestamp()``.
    ``None`` for any other form, which the general parser then handles (and reports)."""

    __slots__ = ("bases", "hours")

    def __init__(self) -> None:
        # date and hour + offset -> POSIX seconds at the hour's start (None: not an aware time)
        self.bases: dict[str, float | None] = {}
        # date and hour -> (offset, seconds at the hour's start) of the last valid one seen
        self.hours: dict[str, tuple[str, float]] = {}

    def __call__(self, s: str) -> float | None:
        if len(s) != 25 or s[13] != ":":
            return None
        seconds = _MINUTE_SECOND.get(s[14:19])
        if seconds is None:
            return None
        hour = s[:13]
        known = self.hours.get(hour)
        if known is not None and s.endswith(known[0]):  # the same offset: s[19:] == known[0]
            return known[1] + seconds
        offset = s[19:]
        key = hour + offset
        try:
            base = self.bases[key]
        except KeyError:
            base = self.bases[key] = _hour_base(hour + ":00:00" + offset)
        if base is None:
            return None
        self.hours[hour] = (offset, base)
        return base + seconds


def _hour_base(text: str) -> float | None:
    """POSIX seconds of an aware time, ``None`` if it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed.timestamp()


def read_cdr_calls(
    path: Path | str | os.PathLike[str],
    *,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
) -> Iterator[CallRow | QuarantinedRow]:
    """Like :func:`read_cdrs`, yielding :data:`CallRow` tuples instead of records (the replay's
    hot path): the same rows are accepted, and the same rows quarantined with the same file, line,
    field and reason. Clean rows in the contract's usual form take a short path; any other row
    goes through the general validator of :func:`read_cdrs`.
    """
    path = Path(path)
    stream = open_binary(path)
    try:
        lines = iter_lines(stream, MAX_LINE_BYTES)
        names = read_header(path, lines, CDR_COLUMNS)
    except BaseException:
        stream.close()
        raise
    return _fast_loop(str(path), stream, lines, tuple(names), dedupe, summary)


def _fast_loop(
    source: str,
    stream: IO[bytes],
    lines: Iterator[tuple[int, str, str | None]],
    names: tuple[str, ...],
    dedupe: bool,
    summary: ReadSummary | None,
) -> Iterator[CallRow | QuarantinedRow]:
    ncols = len(names)
    parse = _RowParser(names, dedupe)
    canonical = parse.canonical
    seen = parse.seen
    known = parse.known_subscribers
    ip_cache = parse.ip_of.cache
    stamp = _Stamps()
    max_field = MAX_FIELD_CHARS
    max_id = MAX_ID_CHARS
    dial = is_dial_string
    answered_s = Disposition.ANSWERED.value
    dispositions = _DISPOSITIONS
    rows_read = accepted = quarantined = duplicates = 0
    try:
        for number, text, error in lines:
            if error is not None:
                rows_read += 1
                quarantined += 1
                yield QuarantinedRow(source, number, None, error, text)
                continue
            if not text or text.isspace():
                continue
            rows_read += 1
            fields = text.split(",") if '"' not in text else None
            if (
                fields is not None
                and canonical
                and len(fields) == ncols
                and len(text) <= max_field
                and text.isprintable()
            ):
                # The short path: every check of _RowParser, on the usual forms only.
                call_id, sid, caller, callee, start_s, answer_s, end_s, disp_s, ip_s = fields
                t0 = stamp(start_s)
                t1 = stamp(end_s)
                ta = stamp(answer_s) if answer_s else None
                ip = ip_cache.get(ip_s) if ip_s else None
                if (
                    call_id
                    and " " not in call_id
                    and sid in known
                    and caller
                    and len(caller) <= max_id
                    and dial(callee)
                    and t0 is not None
                    and t1 is not None
                    and t0 <= t1
                    and disp_s in dispositions
                    and (
                        (ta is not None and disp_s == answered_s and t0 <= ta <= t1)
                        if answer_s
                        else disp_s != answered_s
                    )
                    and (ip is not None or not ip_s)
                    and not (dedupe and call_id in seen)
                ):
                    if dedupe:
                        seen.add(call_id)
                    accepted += 1
                    yield (call_id, sid, callee, t0, ta, t1, ip)
                    continue
            try:
                if fields is None:
                    fields = split_csv_line(text)
                if len(fields) != ncols:
                    raise RowError(None, f"expected {ncols} fields, got {len(fields)}")
                if len(text) > max_field or not text.isprintable():
                    check_fields(names, fields)
                rec = parse(fields)
            except RowError as exc:
                quarantined += 1
                if exc.reason == DUPLICATE_CALL_ID and exc.field == "call_id":
                    duplicates += 1
                yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
                continue
            accepted += 1
            answer = rec.answer
            yield (
                rec.call_id,
                rec.subscriber_id,
                rec.callee,
                rec.start.timestamp(),
                answer.timestamp() if answer is not None else None,
                rec.end.timestamp(),
                rec.source_ip,
            )
    finally:
        stream.close()
        if summary is not None:
            summary.rows_read += rows_read
            summary.accepted += accepted
            summary.quarantined += quarantined
            summary.duplicates += duplicates
