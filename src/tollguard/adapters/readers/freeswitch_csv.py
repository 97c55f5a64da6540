"""Reader of FreeSWITCH ``mod_cdr_csv`` files written with the stock ``example`` template.

No header; every line is the ``example`` template of ``cdr_csv.conf.xml``::

    "${caller_id_name}","${caller_id_number}","${destination_number}","${context}",
    "${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}",
    "${hangup_cause}","${uuid}","${bleg_uuid}","${accountcode}","${read_codec}","${write_codec}"

Lines of the older 13-column form (without the two codecs) are read too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Final

from tollguard.adapters.readers._common import (
    DUPLICATE_CALL_ID,
    JST,
    MAX_SWITCH_LINE_BYTES,
    Counters,
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

#: The columns of the ``example`` template, in file order.
FREESWITCH_CSV_COLUMNS: Final = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)

#: Hangup causes of unanswered calls that mean "busy" / "not answered"; any other is FAILED.
BUSY_CAUSES: Final = frozenset({"USER_BUSY"})
NO_ANSWER_CAUSES: Final = frozenset(
    {
        "NO_ANSWER",
        "NO_USER_RESPONSE",
        "ORIGINATOR_CANCEL",
        "NORMAL_CLEARING",
        "ALLOTTED_TIMEOUT",
        "LOSE_RACE",
        "PICKED_OFF",
    }
)


def disposition_for(hangup_cause: str, answered: bool) -> Disposition:
    """Map a FreeSWITCH hangup cause to a disposition; an answered call is always ANSWERED.

    Raises :class:`RowError` when an unanswered call has no usable hangup cause.
    """
    if answered:
        return Disposition.ANSWERED
    if not hangup_cause or not hangup_cause.replace("_", "").isalnum():
        raise RowError("hangup_cause", "missing or not a hangup cause name")
    cause = hangup_cause.upper()
    if cause in BUSY_CAUSES:
        return Disposition.BUSY
    if cause in NO_ANSWER_CAUSES:
        return Disposition.NO_ANSWER
    return Disposition.FAILED


def build_record(
    *,
    call_id: str,
    subscriber_id: str,
    caller: str,
    callee: str,
    start: datetime,
    answer: datetime | None,
    end: datetime,
    hangup_cause: str,
    source_ip: str | None,
) -> CallDetailRecord:
    """Validate FreeSWITCH values (mod_cdr_csv or mod_json_cdr) and build the record."""
    if not call_id or " " in call_id or len(call_id) > 256:
        raise RowError("uuid", "missing or not a call id")
    if not valid_id(subscriber_id):
        raise RowError(
            "accountcode",
            "subscriber id (accountcode, else caller_id_number) must be 1-64 chars, no spaces",
        )
    if not caller or len(caller) > MAX_ID_CHARS:
        raise RowError("caller_id_number", "is empty" if not caller else "too long")
    if not is_dial_string(callee):
        raise RowError("destination_number", "not a dial string (+E.164, or 3-24 digits)")
    disposition = disposition_for(hangup_cause, answer is not None)
    check_time_order(start, answer, end)
    return CallDetailRecord(
        call_id, subscriber_id, caller, callee, start, answer, end, disposition, source_ip
    )


def _parse(fields: list[str], tz: tzinfo) -> CallDetailRecord:
    if len(fields) not in (13, 15):
        raise RowError(None, f"expected 15 fields (example template) or 13, got {len(fields)}")
    names = FREESWITCH_CSV_COLUMNS[: len(fields)]
    check_fields(names, fields)
    row = dict(zip(names, fields, strict=True))
    for name in ("start_stamp", "end_stamp"):
        if not row[name]:
            raise RowError(name, "is empty")
    start = parse_local("start_stamp", row["start_stamp"], tz)
    end = parse_local("end_stamp", row["end_stamp"], tz)
    answer = parse_local("answer_stamp", row["answer_stamp"], tz) if row["answer_stamp"] else None
    for name in ("duration", "billsec"):
        value = row[name]
        if not (value.isascii() and value.isdigit()):
            raise RowError(name, "not a whole number of seconds")
    caller = row["caller_id_number"]
    return build_record(
        call_id=row["uuid"],
        subscriber_id=row["accountcode"] or caller,
        caller=caller,
        callee=row["destination_number"],
        start=start,
        answer=answer,
        end=end,
        hangup_cause=row["hangup_cause"],
        source_ip=None,
    )


def read_freeswitch_csv(
    path: Path | str | os.PathLike[str],
    *,
    tz: tzinfo = JST,
    dedupe: bool = True,
    summary: ReadSummary | None = None,
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    """Read a FreeSWITCH ``mod_cdr_csv`` file (``example`` template, ``legs="a"``).

    ``*_stamp`` times are local times of the FreeSWITCH server, in ``tz`` (default Asia/Tokyo).
    The template has no source IP: ``source_ip`` is always ``None``.
    """
    path = Path(path)
    stream = open_binary(path)
    return _read(str(path), stream, tz, dedupe, summary)


def _read(
    source: str, stream: IO[bytes], tz: tzinfo, dedupe: bool, summary: ReadSummary | None
) -> Iterator[CallDetailRecord | QuarantinedRow]:
    counters = Counters()
    seen: set[str] = set()
    try:
        for number, text, error in iter_lines(stream, MAX_SWITCH_LINE_BYTES):
            if error is not None:
                counters.rows_read += 1
                counters.quarantined += 1
                yield QuarantinedRow(source, number, None, error, text)
                continue
            if is_blank(text):
                continue
            counters.rows_read += 1
            try:
                record = _parse(split_csv_line(text), tz)
                if dedupe:
                    if record.call_id in seen:
                        counters.duplicates += 1
                        raise RowError("uuid", DUPLICATE_CALL_ID)
                    seen.add(record.call_id)
            except RowError as exc:
                counters.quarantined += 1
                yield QuarantinedRow(source, number, exc.field, exc.reason, clip(text))
                continue
            counters.accepted += 1
            yield record
    finally:
        stream.close()
        counters.flush(summary)
