"""Reader of Asterisk ``cdr_csv`` files (``/var/log/asterisk/cdr-csv/Master.csv``).

No header. Every line has the 16 base columns of ``cdr_csv``::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
    start, answer, end, duration, billsec, disposition, amaflags

followed by ``uniqueid`` (``loguniqueid=yes``), ``userfield`` (``loguserfield=yes``) and
``peeraccount, linkedid, sequence`` (``newcdrcolumns=yes``), which gives lines of 16 to 21 columns.
Several lines (legs) of one call share a ``linkedid`` and are merged into one
:class:`CallDetailRecord`; see ``docs/formats.md`` for every mapping rule.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Final

from tollguard.adapters.readers._common import (
    DUPLICATE_CALL_ID,
    JST,
    MAX_SWITCH_LINE_BYTES,
    Counters,
    IpValidator,
    ReadSummary,
    RowError,
    check_fields,
    check_time_order,
    clip,
    is_blank,
    is_dial_string,
    iter_lines,
    open_binary,
    parse_local,
    split_csv_line,
)
from tollguard.adapters.readers.cdrs import MAX_ID_CHARS, valid_id
from tollguard.domain.records import CallDetailRecord, Disposition, QuarantinedRow

#: The 16 base columns of ``cdr_csv``, in file order.
ASTERISK_BASE_COLUMNS: Final = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
_NEW_COLUMNS: Final = ("peeraccount", "linkedid", "sequence")
#: Extra columns by line width (17 and 20 are told apart by the look of the extra value).
ASTERISK_EXTRA_COLUMNS: Final[dict[int, tuple[str, ...]]] = {
    16: (),
    17: ("uniqueid",),  # or ("userfield",)
    18: ("uniqueid", "userfield"),
    19: _NEW_COLUMNS,
    20: ("uniqueid", *_NEW_COLUMNS),  # or ("userfield", ...)
    21: ("uniqueid", "userfield", *_NEW_COLUMNS),
}
#: A call's legs are merged when they are at most this many lines apart.
DEFAULT_GROUP_WINDOW: Final = 10_000

_UNIQUEID = re.compile(r"(?:[A-Za-z0-9_.-]+-)?[0-9]{9,}\.[0-9]+")
_DISPOSITIONS: Final = {
    "ANSWERED": Disposition.ANSWERED,
    "NO ANSWER": Disposition.NO_ANSWER,
    "BUSY": Disposition.BUSY,
    "FAILED": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
}
_RANK: Final = {
    Disposition.ANSWERED: 3,
    Disposition.BUSY: 2,
    Disposition.NO_ANSWER: 1,
    Disposition.FAILED: 0,
}
_IP_KEYS: Final = ("source_ip", "src_ip", "ip")
#: Columns checked for size and control characters (the others are not used).
_CHECKED: Final = frozenset(
    [
        "accountcode",
        "src",
        "dst",
        "clid",
        "channel",
        "start",
        "answer",
        "end",
        "disposition",
        "duration",
        "billsec",
        "uniqueid",
        "userfield",
        "linkedid",
    ]
)


def columns_for(fields: list[str]) -> tuple[str, ...]:
    """The column names of one ``cdr_csv`` line, from its width (and the look of its 17th field).

    Raises :class:`RowError` for a width other than 16 to 21.
    """
    extra = ASTERISK_EXTRA_COLUMNS.get(len(fields))
    if extra is None:
        raise RowError(None, f"expected 16 to 21 fields (cdr_csv), got {len(fields)}")
    if len(fields) in (17, 20) and not _UNIQUEID.fullmatch(fields[16]):
        extra = ("userfield", *extra[1:])
    return ASTERISK_BASE_COLUMNS + extra


def caller_from_clid(clid: str) -> str:
    """The number of a Caller*ID text such as ``"Alice" <0312345678>``, or ``""``."""
    start = clid.rfind("<")
    if start >= 0 and clid.endswith(">"):
        return clid[start + 1 : -1]
    return ""


def source_ip_from_userfield(userfield: str, ip_of: IpValidator) -> str | None:
    """The source IP in ``userfield``: a bare address, or ``source_ip=``, ``src_ip=``, ``ip=``.

    Raises :class:`RowError` when one of those keys holds something that is not an address; any
    other userfield content is not ours and is ignored.
    """
    if not userfield:
        return None
    bare = ip_of(userfield)
    if bare is not None:
        return bare
    for item in re.split(r"[;,&|\s]+", userfield):
        key, sep, value = item.partition("=")
        if sep and key.strip().lower() in _IP_KEYS:
            found = ip_of(value.strip())
            if found is None:
                raise RowError("userfield", f"{key.strip()}= is not an IPv4 or IPv6 address")
            return found
    return None


@dataclass(slots=True)
class _Leg:
    line: int
    raw: str
    record: CallDetailRecord
    rank: tuple[int, float, int]


def _parse_leg(fields: list[str], tz: tzinfo, ip_of: IpValidator) -> tuple[str, CallDetailRecord]:
    names = columns_for(fields)
    row = dict(zip(names, fields, strict=True))
    src = row["src"]
    subscriber_id = row["accountcode"] or src
    if not valid_id(subscriber_id):
        raise RowError(
            "accountcode", "subscriber id (accountcode, else src) must be 1-64 chars, no spaces"
        )
    caller = src or caller_from_clid(row["clid"])
    if not caller or len(caller) > MAX_ID_CHARS:
        raise RowError("src", "no caller number (src and clid empty)" if not caller else "too long")
    callee = row["dst"]
    if not is_dial_string(callee):
        raise RowError("dst", "not a dial string (+E.164, or 3-24 digits as dialled)")
    disposition = _DISPOSITIONS.get(row["disposition"])
    if disposition is None:
        raise RowError("disposition", "must be ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION")
    if not row["start"]:
        raise RowError("start", "is empty")
    if not row["end"]:
        raise RowError("end", "is empty")
    start = parse_local("start", row["start"], tz)
    end = parse_local("end", row["end"], tz)
    answer: datetime | None = None
    if disposition is Disposition.ANSWERED:
        if not row["answer"]:
            raise RowError("answer", "ANSWERED call without answer time")
        answer = parse_local("answer", row["answer"], tz)
    for name in ("duration", "billsec"):
        value = row[name]
        if not (value.isascii() and value.isdigit()):
            raise RowError(name, "not a whole number of seconds")
    check_time_order(start, answer, end)
    source_ip = source_ip_from_userfield(row.get("userfield", ""), ip_of)
    call_id = row.get("linkedid") or row.get("uniqueid") or ""
    if not call_id or " " in call_id:
        # no usable id (16-column lines): the A channel and its start time identify the call
        call_id = f"{row['channel'].replace(' ', '_')}@{row['start'].replace(' ', 'T')}"
    record = CallDetailRecord(
        call_id, subscriber_id, caller, callee, start, answer, end, disposition, source_ip
    )
    return call_id, record


def read_asterisk_master_csv(
    path: Path | str | os.PathLike[str],
    *,
    tz: tzinfo = JST,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
    group_window: int = DEFAULT_GROUP_WINDOW,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """Read an Asterisk ``cdr_csv`` Master.csv; legs of one call become one record.

    Times are local times of the Asterisk server, in ``tz`` (default Asia/Tokyo; use UTC for
    ``usegmtime=yes``). Legs sharing a ``linkedid`` (else ``uniqueid``; else channel and start) are
    merged when they lie within ``group_window`` lines of each other: the answered leg with the
    longest ``billsec`` is kept. A call id seen again after its call was emitted is quarantined as
    a duplicate when ``dedupe`` is set.
    """
    path = Path(path)
    stream = open_binary(path)
    return _read(str(path), stream, tz, dedupe, summary, group_window)


def _read(
    source: str,
    stream: IO[bytes],
    tz: tzinfo,
    dedupe: bool,
    summary: ReadSummary | None,
    window: int,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    counters = Counters()
    ip_of = IpValidator()
    pending: OrderedDict[str, list[_Leg]] = OrderedDict()
    last_line: dict[str, int] = {}
    emitted: set[str] = set()

    def flush(group: list[_Leg]) -> CallDetailRecord | QuarantinedRow:
        best = max(group, key=lambda leg: leg.rank)
        call_id = best.record.call_id
        if dedupe and call_id in emitted:
            counters.quarantined += 1
            counters.duplicates += 1
            return QuarantinedRow(source, best.line, "linkedid", DUPLICATE_CALL_ID, best.raw)
        emitted.add(call_id)
        counters.accepted += 1
        return best.record

    try:
        for number, text, error in iter_lines(stream, MAX_SWITCH_LINE_BYTES):
            while pending:
                oldest = next(iter(pending))
                if last_line[oldest] >= number - window:
                    break
                del last_line[oldest]
                yield flush(pending.pop(oldest))
            if error is not None:
                counters.rows_read += 1
                counters.quarantined += 1
                yield QuarantinedRow(source, number, None, error, text)
                continue
            if is_blank(text):
                continue
            counters.rows_read += 1
            try:
                fields = split_csv_line(text)
                names = columns_for(fields)
                used = [(n, v) for n, v in zip(names, fields, strict=True) if n in _CHECKED]
                check_fields(tuple(n for n, _ in used), [v for _, v in used])
                key, record = _parse_leg(fields, tz, ip_of)
            except RowError as exc:
                counters.quarantined += 1
                yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
                continue
            leg = _Leg(
                number, clip(text), record, (_RANK[record.disposition], _billsec(record), -number)
            )
            if key in pending:
                pending[key].append(leg)
                pending.move_to_end(key)
            else:
                pending[key] = [leg]
            last_line[key] = number
        while pending:
            _, group = pending.popitem(last=False)
            yield flush(group)
    finally:
        stream.close()
        counters.flush(summary)


def _billsec(record: CallDetailRecord) -> float:
    return record.billable_seconds
