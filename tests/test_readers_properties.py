"""Property tests: no input makes a reader crash or lose a valid row.

Valid rows (rendered with the standard ``csv`` writer, so quoting is exercised) are interleaved
with junk lines (random bytes, corrupted rows, non-UTF-8 bytes) and blank lines. Every valid row
must come out accepted and equal to the expected record, in order; every junk line must come out
quarantined with its physical line number; nothing may raise.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollguard.adapters.readers import (
    ReadSummary,
    read_asterisk_master_csv,
    read_cdrs,
    read_freeswitch_csv,
    read_freeswitch_json,
    read_kamailio_acc_cdrs,
    read_sip_events,
    read_subscribers,
)
from tollguard.adapters.readers._common import iter_lines
from tollguard.domain.records import (
    CallDetailRecord,
    Disposition,
    IntlStatus,
    QuarantinedRow,
    Segment,
    Service,
    SipEventKind,
    SipSecurityEvent,
    Subscriber,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- building blocks -------------------------------------------------------------------------

free_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), min_size=1, max_size=40
)
ids = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@", min_size=1, max_size=20
)
email_part = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
callees = st.one_of(
    st.text("0123456789", min_size=3, max_size=24),
    st.builds(
        lambda d, rest: "+" + d + rest,
        st.sampled_from("123456789"),
        st.text("0123456789", min_size=5, max_size=14),
    ),
)
e164 = st.builds(
    lambda d, rest: "+" + d + rest,
    st.sampled_from("123456789"),
    st.text("0123456789", min_size=8, max_size=12),
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1))
seconds = st.integers(0, 20_000)
ips = st.one_of(st.none(), st.ip_addresses().map(str))


def csv_line(fields: list[str], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(fields)
    return out.getvalue().encode("utf-8")


def _skipped(line: bytes) -> bool:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    text = text[:-1] if text.endswith("\r") else text
    # A byte-order mark starting the file is an encoding marker the readers strip, which makes
    # such a line blank there: never generate it as junk (its fate depends on its position).
    text = text.removeprefix("\ufeff")
    return not text or text.isspace()


def junk_bytes(max_commas: int) -> st.SearchStrategy[bytes]:
    """One line of random bytes that can never be a valid row (too few fields), never blank."""
    return (
        st.binary(min_size=1, max_size=200)
        .map(lambda b: b.replace(b"\n", b""))
        .filter(lambda b: b.count(b",") <= max_commas and b.count(b"\t") == 0 and not _skipped(b))
        .map(lambda b: b + b"\n")
    )


def non_utf8(line: bytes) -> bytes:
    """The line with an invalid UTF-8 byte inside it (quarantined, never decoded)."""
    cut = max(1, len(line) // 2)
    return line[:cut] + b"\xff" + line[cut:]


@dataclass
class Entry:
    """One line of a generated file: its bytes and the record expected (None: quarantined)."""

    data: bytes
    expected: object | None


def run(
    read: Callable[..., Iterator[Any]], header: bytes, entries: list[Entry], blanks: list[int]
) -> None:
    """Write the file, read it, and check the no-crash / no-loss / exact-line properties."""
    body: list[tuple[bytes, Entry | None]] = [(e.data, e) for e in entries]
    for at in sorted(blanks, reverse=True):  # blank lines are skipped but still counted
        body.insert(at % (len(body) + 1), (b"\n", None))
    expected = [e.expected for e in entries if e.expected is not None]
    first_line = 2 if header else 1
    junk_lines = [
        n
        for n, (_, entry) in enumerate(body, start=first_line)
        if entry is not None and entry.expected is None
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(header + b"".join(data for data, _ in body))
        summary = ReadSummary()
        items = list(read(path, summary=summary))
    got = [i for i in items if not isinstance(i, QuarantinedRow)]
    bad = [i for i in items if isinstance(i, QuarantinedRow)]
    assert got == expected
    assert [q.line for q in bad] == junk_lines
    assert all(q.source == str(path) and q.reason for q in bad)
    assert summary.accepted == len(expected) and summary.quarantined == len(junk_lines)


def mixed(good: st.SearchStrategy[Entry], junk: st.SearchStrategy[Entry]) -> Any:
    return st.tuples(
        st.lists(st.one_of(good, good, junk), max_size=25),
        st.lists(st.integers(0, 100), max_size=4),
    )


def unique_ids(entries: list[Entry], rebuild: Callable[[Entry, int], Entry]) -> list[Entry]:
    return [rebuild(e, i) if e.expected is not None else e for i, e in enumerate(entries)]


# --- CDR contract ----------------------------------------------------------------------------

CDR_HEADER = b"call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip\n"


@st.composite
def good_cdr(draw: st.DrawFn) -> Entry:
    tz = draw(offsets)
    start = draw(starts).replace(tzinfo=tz)
    disposition = draw(st.sampled_from(list(Disposition)))
    answer = (
        start + timedelta(seconds=draw(seconds)) if disposition is Disposition.ANSWERED else None
    )
    end = (answer or start) + timedelta(
        seconds=draw(seconds), microseconds=draw(st.integers(0, 999_999))
    )
    ip = draw(ips)
    record = CallDetailRecord(
        "PLACEHOLDER",
        draw(ids),
        draw(free_text),
        draw(callees),
        start,
        answer,
        end,
        disposition,
        str(ipaddress.ip_address(ip)) if ip else None,
    )
    return Entry(b"", record)


def render_cdr(entry: Entry, i: int) -> Entry:
    r = entry.expected
    assert isinstance(r, CallDetailRecord)
    record = CallDetailRecord(
        f"call-{i}",
        r.subscriber_id,
        r.caller,
        r.callee,
        r.start,
        r.answer,
        r.end,
        r.disposition,
        r.source_ip,
    )
    fields = [
        record.call_id,
        record.subscriber_id,
        record.caller,
        record.callee,
        record.start.isoformat(),
        record.answer.isoformat() if record.answer else "",
        record.end.isoformat(),
        record.disposition.value,
        record.source_ip or "",
    ]
    return Entry(csv_line(fields), record)


CDR_CORRUPTIONS = [
    (3, "12ab"),
    (3, "*21#"),
    (7, "MAYBE"),
    (4, "2026-01-01 00:00:00"),
    (8, "999.0.0.1"),
    (0, ""),
    (1, "a b"),
    (6, "2000-01-01T00:00:00+00:00X"),
    (2, ""),
]


@st.composite
def bad_cdr(draw: st.DrawFn) -> Entry:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return Entry(draw(junk_bytes(7)), None)
    base = render_cdr(draw(good_cdr()), 10_000 + draw(st.integers(0, 10**6)))
    if kind == 1:
        return Entry(non_utf8(base.data), None)
    fields = next(csv.reader([base.data.decode()]))
    at, value = draw(st.sampled_from(CDR_CORRUPTIONS))
    fields[at] = value
    return Entry(csv_line(fields), None)


@PROPERTY
@given(mixed(good_cdr(), bad_cdr()))
def test_cdr_reader_never_crashes_nor_loses_a_valid_row(case: Any) -> None:
    entries, blanks = case
    run(read_cdrs, CDR_HEADER, unique_ids(entries, render_cdr), blanks)


# --- subscribers -----------------------------------------------------------------------------

SUB_HEADER = b"subscriber_id,segment,service,numbers,email,intl_status,equipment\n"


@st.composite
def good_subscriber(draw: st.DrawFn) -> Entry:
    numbers = tuple(draw(st.lists(e164, min_size=1, max_size=3, unique=True)))
    email = draw(st.one_of(st.just(""), st.builds("{}@{}.example".format, email_part, email_part)))
    equipment = draw(st.one_of(st.none(), free_text.filter(lambda t: t.strip() == t and t)))
    record = Subscriber(
        "PLACEHOLDER",
        draw(st.sampled_from(list(Segment))),
        draw(st.sampled_from(list(Service))),
        numbers,
        email,
        draw(st.sampled_from(list(IntlStatus))),
        equipment,
    )
    return Entry(b"", record)


def render_subscriber(entry: Entry, i: int) -> Entry:
    s = entry.expected
    assert isinstance(s, Subscriber)
    numbers = tuple(f"+8150{i:04d}{n[-4:]}{k}" for k, n in enumerate(s.numbers))  # unique per row
    record = Subscriber(f"S{i}", s.segment, s.service, numbers, s.email, s.intl_status, s.equipment)
    fields = [
        record.subscriber_id,
        record.segment.value,
        record.service.value,
        ";".join(numbers),
        record.email,
        record.intl_status.value,
        record.equipment or "",
    ]
    return Entry(csv_line(fields), record)


@st.composite
def bad_subscriber(draw: st.DrawFn) -> Entry:
    if draw(st.booleans()):
        return Entry(draw(junk_bytes(5)), None)
    base = render_subscriber(draw(good_subscriber()), 50_000 + draw(st.integers(0, 9999)))
    fields = next(csv.reader([base.data.decode()]))
    at, value = draw(
        st.sampled_from(
            [
                (1, "enterprise"),
                (2, "voip"),
                (3, "0312345678"),
                (3, ""),
                (4, "nobody"),
                (5, "blocked"),
            ]
        )
    )
    fields[at] = value
    return Entry(csv_line(fields), None)


@PROPERTY
@given(mixed(good_subscriber(), bad_subscriber()))
def test_subscriber_reader_never_crashes_nor_loses_a_valid_row(case: Any) -> None:
    entries, blanks = case
    run(read_subscribers, SUB_HEADER, unique_ids(entries, render_subscriber), blanks)


# --- SIP events ------------------------------------------------------------------------------

SIP_HEADER = b"time,source_ip,username,event,user_agent\n"


@st.composite
def good_sip(draw: st.DrawFn) -> Entry:
    event = SipSecurityEvent(
        draw(starts).replace(tzinfo=draw(offsets)),
        str(draw(st.ip_addresses())),
        draw(st.one_of(st.just(""), free_text)),
        draw(st.sampled_from(list(SipEventKind))),
        draw(st.one_of(st.just(""), free_text)),
    )
    fields = [
        event.time.isoformat(),
        event.source_ip,
        event.username,
        event.event.value,
        event.user_agent,
    ]
    return Entry(csv_line(fields), event)


@st.composite
def bad_sip(draw: st.DrawFn) -> Entry:
    if draw(st.booleans()):
        return Entry(draw(junk_bytes(3)), None)
    fields = next(csv.reader([draw(good_sip()).data.decode()]))
    at, value = draw(
        st.sampled_from([(0, "2026-01-01 00:00"), (1, "1.2.3"), (3, "invite"), (1, "")])
    )
    fields[at] = value
    return Entry(csv_line(fields), None)


@PROPERTY
@given(mixed(good_sip(), bad_sip()))
def test_sip_event_reader_never_crashes_nor_loses_a_valid_row(case: Any) -> None:
    entries, blanks = case
    run(read_sip_events, SIP_HEADER, entries, blanks)


# --- switch formats --------------------------------------------------------------------------

naive_starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
dial_digits = st.text("0123456789", min_size=3, max_size=24)
stamp = "%Y-%m-%d %H:%M:%S"


@st.composite
def switch_call(draw: st.DrawFn) -> tuple[datetime, datetime | None, datetime, Disposition]:
    start = draw(naive_starts)
    disposition = draw(st.sampled_from(list(Disposition)))
    answer = (
        start + timedelta(seconds=draw(seconds)) if disposition is Disposition.ANSWERED else None
    )
    end = (answer or start) + timedelta(seconds=draw(seconds))
    return start, answer, end, disposition


def utc(d: datetime | None) -> datetime | None:
    return d.replace(tzinfo=UTC) if d else None


@st.composite
def good_asterisk(draw: st.DrawFn) -> Entry:
    start, answer, end, disposition = draw(switch_call())
    account = draw(st.one_of(st.just(""), ids))
    src = draw(dial_digits)
    ip = draw(ips)
    record = CallDetailRecord(
        "PLACEHOLDER",
        account or src,
        src,
        draw(dial_digits),
        utc(start) or start,
        utc(answer),
        utc(end) or end,
        disposition,
        str(ipaddress.ip_address(ip)) if ip else None,
    )
    return Entry(b"", record)


def render_asterisk(entry: Entry, i: int) -> Entry:
    r = entry.expected
    assert isinstance(r, CallDetailRecord)
    linkedid = f"1763600000.{i}"
    record = CallDetailRecord(
        linkedid,
        r.subscriber_id,
        r.caller,
        r.callee,
        r.start,
        r.answer,
        r.end,
        r.disposition,
        r.source_ip,
    )
    account = "" if r.subscriber_id == r.caller else r.subscriber_id
    billsec = int(r.billable_seconds)
    fields = [
        account,
        r.caller,
        r.callee,
        "from-internal",
        f'"PBX" <{r.caller}>',
        f"PJSIP/{i}-0001",
        "PJSIP/trunk-0002",
        "Dial",
        "PJSIP/trunk,60",
        r.start.strftime(stamp),
        r.answer.strftime(stamp) if r.answer else "",
        r.end.strftime(stamp),
        str(int((r.end - r.start).total_seconds())),
        str(billsec),
        r.disposition.value,
        "DOCUMENTATION",
        linkedid,
        f"src_ip={r.source_ip}" if r.source_ip else "",
        "",
        linkedid,
        "0",
    ]
    return Entry(csv_line(fields), record)


@st.composite
def bad_asterisk(draw: st.DrawFn) -> Entry:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return Entry(draw(junk_bytes(14)), None)
    base = render_asterisk(draw(good_asterisk()), 90_000 + draw(st.integers(0, 9999)))
    if kind == 1:
        return Entry(non_utf8(base.data), None)
    fields = next(csv.reader([base.data.decode()]))
    at, value = draw(st.sampled_from([(2, "s"), (14, "UNKNOWN"), (9, "1/1/2026"), (13, "x")]))
    fields[at] = value
    return Entry(csv_line(fields), None)


def read_asterisk_utc(path: Path, **kw: Any) -> Iterator[CallDetailRecord | QuarantinedRow]:
    return read_asterisk_master_csv(path, tz=UTC, **kw)


@PROPERTY
@given(mixed(good_asterisk(), bad_asterisk()))
def test_asterisk_reader_never_crashes_nor_loses_a_valid_row(case: Any) -> None:
    entries, blanks = case
    run(read_asterisk_utc, b"", unique_ids(entries, render_asterisk), blanks)


CAUSES = {
    Disposition.ANSWERED: "NORMAL_CLEARING",
    Disposition.BUSY: "USER_BUSY",
    Disposition.NO_ANSWER: "NO_ANSWER",
    Disposition.FAILED: "CALL_REJECTED",
}


def render_freeswitch(entry: Entry, i: int) -> Entry:
    r = entry.expected
    assert isinstance(r, CallDetailRecord)
    uuid = f"0f0e{i:04d}-aaaa-bbbb-cccc-{i:012d}"
    record = CallDetailRecord(
        uuid, r.subscriber_id, r.caller, r.callee, r.start, r.answer, r.end, r.disposition, None
    )
    account = "" if r.subscriber_id == r.caller else r.subscriber_id
    fields = [
        "Name, Inc.",
        r.caller,
        r.callee,
        "default",
        r.start.strftime(stamp),
        r.answer.strftime(stamp) if r.answer else "",
        r.end.strftime(stamp),
        str(int((r.end - r.start).total_seconds())),
        str(int(r.billable_seconds)),
        CAUSES[r.disposition],
        uuid,
        "",
        account,
        "PCMU",
        "PCMU",
    ]
    return Entry(csv_line(fields), record)


@st.composite
def bad_freeswitch(draw: st.DrawFn) -> Entry:
    if draw(st.booleans()):
        return Entry(draw(junk_bytes(11)), None)
    base = render_freeswitch(draw(good_asterisk()), 90_000 + draw(st.integers(0, 9999)))
    fields = next(csv.reader([base.data.decode()]))
    at, value = draw(st.sampled_from([(2, "s"), (4, "nope"), (8, "-1"), (10, "")]))
    fields[at] = value
    return Entry(csv_line(fields), None)


def read_freeswitch_utc(path: Path, **kw: Any) -> Iterator[CallDetailRecord | QuarantinedRow]:
    return read_freeswitch_csv(path, tz=UTC, **kw)


@PROPERTY
@given(mixed(good_asterisk(), bad_freeswitch()))
def test_freeswitch_csv_reader_never_crashes_nor_loses_a_valid_row(case: Any) -> None:
    entries, blanks = case
    run(read_freeswitch_utc, b"", unique_ids(entries, render_freeswitch), blanks)


KAM_HEADER = b"start_time\tend_time\tduration\tcallid\tsrc_user\tsrc_ip\tdst_ouser\tsip_code\n"
SIP_CODES = {
    Disposition.ANSWERED: "200",
    Disposition.BUSY: "486",
    Disposition.NO_ANSWER: "487",
    Disposition.FAILED: "503",
}


def render_kamailio(entry: Entry, i: int) -> Entry:
    r = entry.expected
    assert isinstance(r, CallDetailRecord)
    start = r.answer or r.start  # Kamailio's start_time is the answer time of answered calls
    answer = r.answer
    record = CallDetailRecord(
        f"{i}@kam", r.caller, r.caller, r.callee, start, answer, r.end, r.disposition, r.source_ip
    )
    fields = [
        start.strftime(stamp),
        r.end.strftime(stamp),
        str((r.end - start).total_seconds()),
        f"{i}@kam",
        r.caller,
        r.source_ip or "NULL",
        r.callee,
        SIP_CODES[r.disposition],
    ]
    return Entry(csv_line(fields, "\t"), record)


@st.composite
def bad_kamailio(draw: st.DrawFn) -> Entry:
    if draw(st.booleans()):
        return Entry(draw(junk_bytes(0)), None)
    base = render_kamailio(draw(good_asterisk()), 90_000 + draw(st.integers(0, 9999)))
    fields = next(csv.reader([base.data.decode()], delimiter="\t"))
    at, value = draw(st.sampled_from([(6, "sip:x"), (7, "100"), (0, "x"), (3, "")]))
    fields[at] = value
    return Entry(csv_line(fields, "\t"), None)


def read_kamailio_utc(path: Path, **kw: Any) -> Iterator[CallDetailRecord | QuarantinedRow]:
    return read_kamailio_acc_cdrs(path, tz=UTC, **kw)


@PROPERTY
@given(mixed(good_asterisk(), bad_kamailio()))
def test_kamailio_reader_never_crashes_nor_loses_a_valid_row(case: Any) -> None:
    entries, blanks = case
    run(read_kamailio_utc, KAM_HEADER, unique_ids(entries, render_kamailio), blanks)


def render_json(entry: Entry, i: int) -> Entry:
    r = entry.expected
    assert isinstance(r, CallDetailRecord)
    uuid = f"json-{i}"
    record = CallDetailRecord(
        uuid,
        r.subscriber_id,
        r.caller,
        r.callee,
        r.start,
        r.answer,
        r.end,
        r.disposition,
        r.source_ip,
    )

    def us(d: datetime | None) -> str:
        return str(int(d.timestamp()) * 1_000_000) if d else "0"

    doc = {
        "variables": {
            "uuid": uuid,
            "accountcode": r.subscriber_id,
            "caller_id_number": r.caller,
            "destination_number": r.callee,
            "start_uepoch": us(r.start),
            "answer_uepoch": us(r.answer),
            "end_uepoch": us(r.end),
            "hangup_cause": CAUSES[r.disposition],
            "sip_received_ip": r.source_ip or "",
        }
    }
    return Entry(json.dumps(doc).encode() + b"\n", record)


@PROPERTY
@given(
    good_asterisk(),
    st.lists(
        st.one_of(good_asterisk(), junk_bytes(100).map(lambda b: Entry(b, None))), max_size=20
    ),
)
def test_freeswitch_json_lines_reader_never_crashes_nor_loses_a_valid_row(
    first: Entry, rest: list[Entry]
) -> None:
    entries = [first, *rest]  # the first line decides "JSON lines": it must be a document
    run(read_freeswitch_json, b"", unique_ids(entries, render_json), [])


# --- lines and arbitrary input ---------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.integers(1, 64), st.integers(8, 600))
def test_iter_lines_is_chunk_size_independent(data: bytes, chunk: int, limit: int) -> None:
    whole = list(iter_lines(io.BytesIO(data), limit))
    assert list(iter_lines(io.BytesIO(data), limit, chunk)) == whole
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    assert len(whole) == body.count(b"\n") + (0 if not body or body.endswith(b"\n") else 1)
    assert [n for n, _, _ in whole] == list(range(1, len(whole) + 1))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_every_reader_survives_arbitrary_bytes_after_a_header(body: bytes) -> None:
    cases: list[tuple[Callable[..., Iterator[Any]], bytes]] = [
        (read_cdrs, CDR_HEADER),
        (read_subscribers, SUB_HEADER),
        (read_sip_events, SIP_HEADER),
        (read_kamailio_acc_cdrs, KAM_HEADER),
        (read_asterisk_master_csv, b""),
        (read_freeswitch_csv, b""),
        (read_freeswitch_json, b""),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for read, header in cases:
            path = Path(tmp) / "input"
            path.write_bytes(header + body)
            lines = (header + body).count(b"\n") + 1
            for item in read(path):
                if isinstance(item, QuarantinedRow):
                    assert 1 <= item.line <= lines and item.reason
