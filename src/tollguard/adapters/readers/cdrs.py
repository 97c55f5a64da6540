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


def _loop(
    source: str,
    stream: IO[bytes],
    lines: Iterator[tuple[int, str, str | None]],
    names: tuple[str, ...],
    dedupe: bool,
    summary: ReadSummary | None,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """The row loop, inlined for speed (see :func:`drive_csv` for the generic version)."""
    ncols = len(names)
    pick = itemgetter(*(names.index(column) for column in CDR_COLUMNS))
    canonical = names == CDR_COLUMNS
    seen: set[str] = set()
    known_subscribers: set[str] = set()
    ip_of = IpValidator()
    ip_cache = ip_of.cache
    dispositions = _DISPOSITIONS
    fromiso = datetime.fromisoformat
    answered = Disposition.ANSWERED
    record = CallDetailRecord
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
                (call_id, subscriber_id, caller, callee, start_s, answer_s, end_s, disp_s, ip_s) = (
                    fields if canonical else pick(fields)
                )
                if not call_id or " " in call_id:
                    raise RowError("call_id", "is empty" if not call_id else "contains spaces")
                if subscriber_id not in known_subscribers:
                    if not valid_id(subscriber_id):
                        raise RowError("subscriber_id", "must be 1-64 characters without spaces")
                    known_subscribers.add(subscriber_id)
                if not caller or len(caller) > MAX_ID_CHARS:
                    raise RowError(
                        "caller", "is empty" if not caller else "longer than 64 characters"
                    )
                if not is_dial_string(callee):
                    raise RowError(
                        "callee", "not a dial string (+E.164, or 3-24 digits as dialled)"
                    )
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
                disposition = dispositions.get(disp_s)
                if disposition is None:
                    raise RowError("disposition", "must be ANSWERED, NO ANSWER, BUSY or FAILED")
                if end < start:
                    raise RowError("end", "end is before start")
                if answer_s:
                    try:
                        answered_at = fromiso(answer_s)
                    except ValueError:
                        raise RowError(
                            "answer", f"not an ISO 8601 time: {answer_s[:40]!r}"
                        ) from None
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
                    source_ip = ip_cache.get(ip_s) or ip_of(ip_s)
                    if source_ip is None:
                        raise RowError("source_ip", "not an IPv4 or IPv6 address")
                else:
                    source_ip = None
                if dedupe:
                    if call_id in seen:
                        duplicates += 1
                        raise RowError("call_id", DUPLICATE_CALL_ID)
                    seen.add(call_id)
            except RowError as exc:
                quarantined += 1
                yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
                continue
            accepted += 1
            yield record(
                call_id, subscriber_id, caller, callee, start, answer, end, disposition, source_ip
            )
    finally:
        stream.close()
        if summary is not None:
            summary.rows_read += rows_read
            summary.accepted += accepted
            summary.quarantined += quarantined
            summary.duplicates += duplicates
