"""Reader of Kamailio ``acc`` CDRs (``acc_cdrs`` table) exported to CSV with a header.

The ``acc`` module (with ``cdr_enable``) writes ``start_time``, ``end_time`` and ``duration`` per
dialog, plus the columns named in ``cdr_extra``. The export is a CSV with a header line (comma,
semicolon or tab separated, as ``psql \\copy ... csv header`` or ``mysql -B`` produce). The
supported ``cdr_extra`` columns are listed in ``docs/formats.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from operator import itemgetter
from pathlib import Path
from typing import Final

from tollguard.adapters.readers._common import (
    DUPLICATE_CALL_ID,
    JST,
    MAX_SWITCH_LINE_BYTES,
    Counters,
    InputFileError,
    IpValidator,
    ReadSummary,
    RowError,
    check_time_order,
    drive_csv,
    guarded,
    is_dial_string,
    iter_lines,
    open_binary,
    parse_local,
    read_header,
)
from tollguard.adapters.readers.cdrs import MAX_ID_CHARS, valid_id
from tollguard.domain.records import CallDetailRecord, Disposition, QuarantinedRow

#: Columns every export must have.
KAMAILIO_REQUIRED: Final = ("start_time", "callid", "src_user")
#: Optional columns understood (others are ignored). ``dst_ouser`` or ``dst_user`` is required,
#: and ``end_time`` or ``duration``.
KAMAILIO_OPTIONAL: Final = (
    "end_time",
    "duration",
    "dst_ouser",
    "dst_user",
    "src_ip",
    "sip_code",
    "sip_reason",
    "subscriber_id",
    "accountcode",
    "auth_user",
)
#: SIP final response codes of unanswered calls that mean busy / not answered; others FAILED.
BUSY_CODES: Final = frozenset({486, 600})
NO_ANSWER_CODES: Final = frozenset({408, 480, 487})
#: How SQL NULL appears in exports (``mysql -B`` writes NULL, ``COPY`` text format writes \N).
_NULLS: Final = frozenset({"NULL", "\\N"})


def disposition_for_sip_code(code: str) -> Disposition:
    """Map a SIP final response code to a disposition (2xx is ANSWERED)."""
    if not (code.isascii() and code.isdigit() and len(code) == 3) or not "2" <= code[0] <= "6":
        raise RowError("sip_code", "not a SIP final response code (200-699)")
    value = int(code)
    if value < 300:
        return Disposition.ANSWERED
    if value in BUSY_CODES:
        return Disposition.BUSY
    if value in NO_ANSWER_CODES:
        return Disposition.NO_ANSWER
    return Disposition.FAILED


def _kamailio_time(name: str, value: str, tz: tzinfo) -> datetime:
    """``YYYY-MM-DD HH:MM:SS[.fff]`` (local in ``tz`` unless it has an offset) or Unix seconds."""
    if value.replace(".", "", 1).isdigit() and value.isascii():
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise RowError(name, "Unix time out of range") from None
    return parse_local(name, value, tz)


def _detect_delimiter(header: str) -> str:
    if "\t" in header:
        return "\t"
    if ";" in header and "," not in header:
        return ";"
    return ","


def read_kamailio_acc_cdrs(
    path: Path | str | os.PathLike[str],
    *,
    tz: tzinfo = JST,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """Read a CSV export of Kamailio's ``acc_cdrs`` table.

    ``start_time``/``end_time`` without offset are local times in ``tz``. With a ``sip_code``
    column the disposition follows it; without one every row is an established (ANSWERED) dialog.
    ``answer`` is ``start_time`` for answered calls: configure ``cdr_start_on_confirmed=1`` so that
    ``start_time`` is the answer time (otherwise ringing time counts as billable).
    """
    path = Path(path)
    stream = open_binary(path)
    try:
        lines = iter_lines(stream, MAX_SWITCH_LINE_BYTES)
        first = next(lines, None)
        if first is None:
            raise InputFileError(path, "empty file: expected a header line")
        delimiter = _detect_delimiter(first[1])
        names = read_header(
            path, iter([first]), KAMAILIO_REQUIRED, KAMAILIO_OPTIONAL, delimiter=delimiter
        )
        if "dst_ouser" not in names and "dst_user" not in names:
            raise InputFileError(path, "header lacks dst_ouser or dst_user (the number dialled)")
        if "end_time" not in names and "duration" not in names:
            raise InputFileError(path, "header lacks end_time or duration")
    except BaseException:
        stream.close()
        raise

    def index(*candidates: str) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    pick = itemgetter(*(names.index(c) for c in KAMAILIO_REQUIRED))
    at_end, at_duration = index("end_time"), index("duration")
    at_callee = [i for i in (index("dst_ouser"), index("dst_user")) if i is not None]
    at_subscriber = [
        i
        for i in (index("subscriber_id"), index("accountcode"), index("auth_user"))
        if i is not None
    ]
    at_ip, at_code = index("src_ip"), index("sip_code")
    ip_of = IpValidator()
    seen: set[str] = set()

    def parse(fields: list[str]) -> CallDetailRecord:
        fields = ["" if f in _NULLS else f for f in fields]
        start_s, call_id, caller = pick(fields)
        if not call_id or " " in call_id:
            raise RowError("callid", "is empty" if not call_id else "contains spaces")
        if not caller or len(caller) > MAX_ID_CHARS:
            raise RowError("src_user", "is empty" if not caller else "too long")
        callee = next((fields[i] for i in at_callee if fields[i]), "")
        if not is_dial_string(callee):
            raise RowError("dst_ouser", "not a dial string (+E.164, or 3-24 digits as dialled)")
        subscriber_id = next((fields[i] for i in at_subscriber if fields[i]), caller)
        if not valid_id(subscriber_id):
            raise RowError("subscriber_id", "must be 1-64 characters without spaces")
        if not start_s:
            raise RowError("start_time", "is empty")
        start = _kamailio_time("start_time", start_s, tz)
        end_s = fields[at_end] if at_end is not None else ""
        if end_s:
            end = _kamailio_time("end_time", end_s, tz)
        else:
            duration_s = fields[at_duration] if at_duration is not None else ""
            try:
                seconds = float(duration_s)
            except ValueError:
                raise RowError("duration", "no end_time and duration is not a number") from None
            if not 0 <= seconds < 10 * 86400:
                raise RowError("duration", "out of range")
            end = start + timedelta(seconds=seconds)
        code = fields[at_code] if at_code is not None else ""
        disposition = disposition_for_sip_code(code) if code else Disposition.ANSWERED
        answer = start if disposition is Disposition.ANSWERED else None
        check_time_order(start, answer, end)
        source_ip: str | None = None
        if at_ip is not None and fields[at_ip]:
            source_ip = ip_of(fields[at_ip])
            if source_ip is None:
                raise RowError("src_ip", "not an IPv4 or IPv6 address")
        if dedupe:
            if call_id in seen:
                raise RowError("callid", DUPLICATE_CALL_ID)
            seen.add(call_id)
        return CallDetailRecord(
            call_id, subscriber_id, caller, callee, start, answer, end, disposition, source_ip
        )

    counters = Counters()
    rows = drive_csv(str(path), lines, tuple(names), parse, counters, delimiter=delimiter)
    return guarded(stream, counters, summary, rows)
