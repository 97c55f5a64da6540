"""Readers of the tollguard contract CSVs: subscribers, CDRs, SIP security events."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tollguard.adapters.readers import (
    DUPLICATE_CALL_ID,
    InputFileError,
    ReadSummary,
    read_cdrs,
    read_sip_events,
    read_subscribers,
)
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

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
JST = timezone(timedelta(hours=9))
CDR_HEADER = "call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip\n"
GOOD_CDR = (
    "c1,S0001,+81335550101,0335551234,2026-11-23T09:00:00+09:00,2026-11-23T09:00:05+09:00,"
    "2026-11-23T09:03:00+09:00,ANSWERED,153.142.20.11"
)
SUB_HEADER = "subscriber_id,segment,service,numbers,email,intl_status\n"
GOOD_SUB = "B1,business,ip,+81335559901,ops@firm.example,enabled"
SIP_HEADER = "time,source_ip,username,event,user_agent\n"
GOOD_SIP = "2026-11-23T02:00:00+09:00,45.95.147.12,100,auth_failure,friendly-scanner"


def write(tmp_path: Path, content: str | bytes, name: str = "input.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def split(items: Sequence[object]) -> tuple[list[object], list[QuarantinedRow]]:
    good = [i for i in items if not isinstance(i, QuarantinedRow)]
    bad = [i for i in items if isinstance(i, QuarantinedRow)]
    return good, bad


def cdr_line(**changes: str) -> str:
    names = CDR_HEADER.strip().split(",")
    values = dict(zip(names, GOOD_CDR.split(","), strict=True))
    values.update(changes)
    return ",".join(values[n] for n in names)


def one_cdr(tmp_path: Path, line: str) -> CallDetailRecord | QuarantinedRow:
    items = list(read_cdrs(write(tmp_path, CDR_HEADER + line + "\n")))
    assert len(items) == 1
    return items[0]


# --- subscribers -----------------------------------------------------------------------------


def test_subscribers_sample_values() -> None:
    items = list(read_subscribers(SAMPLES / "subscribers.csv"))
    good, bad = split(items)
    assert bad == []
    by_id = {s.subscriber_id: s for s in good if isinstance(s, Subscriber)}
    assert len(by_id) == 12
    assert by_id["S0001"] == Subscriber(
        "S0001",
        Segment.BUSINESS,
        Service.IP,
        ("+81335550101", "+81335550102", "+81335550103"),
        "it-desk@kanda-trading.example",
        IntlStatus.ENABLED,
        "NEC UNIVERGE SV9100",
    )
    assert by_id["S0004"].service is Service.PSTN and by_id["S0004"].equipment is None
    assert by_id["S0008"].email == "" and by_id["S0008"].intl_status is IntlStatus.SUSPENDED
    assert by_id["S0010"].equipment == "Cisco SPA122, firmware 1.4.1"


def test_subscribers_without_equipment_column_and_any_column_order(tmp_path: Path) -> None:
    text = "intl_status,numbers,subscriber_id,email,service,segment\n"
    text += "suspended,+81505550612;+81505550613,R1,a@b.example,pstn,residential\n"
    (sub,) = list(read_subscribers(write(tmp_path, text)))
    assert sub == Subscriber(
        "R1",
        Segment.RESIDENTIAL,
        Service.PSTN,
        ("+81505550612", "+81505550613"),
        "a@b.example",
        IntlStatus.SUSPENDED,
        None,
    )


def test_subscribers_repeated_number_of_one_subscriber_is_kept_once(tmp_path: Path) -> None:
    text = SUB_HEADER + "B1,business,ip,+81335559901;+81335559901,ops@firm.example,enabled\n"
    (sub,) = list(read_subscribers(write(tmp_path, text)))
    assert isinstance(sub, Subscriber) and sub.numbers == ("+81335559901",)


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("B 1,business,ip,+81335559901,a@b.example,enabled", "subscriber_id", "without spaces"),
        ("," + GOOD_SUB.split(",", 1)[1], "subscriber_id", "1-64"),
        ("X" * 65 + ",business,ip,+81335559901,a@b.example,enabled", "subscriber_id", "1-64"),
        ("B1,enterprise,ip,+81335559901,a@b.example,enabled", "segment", "residential or"),
        ("B1,Business,ip,+81335559901,a@b.example,enabled", "segment", "residential or"),
        ("B1,business,voip,+81335559901,a@b.example,enabled", "service", "ip or pstn"),
        ("B1,business,ip,,a@b.example,enabled", "numbers", "at least one"),
        ("B1,business,ip,0335559901,a@b.example,enabled", "numbers", "E.164"),
        ("B1,business,ip,+8133555990a,a@b.example,enabled", "numbers", "E.164"),
        ("B1,business,ip,+12345,a@b.example,enabled", "numbers", "E.164"),
        ("B1,business,ip,+1234567890123456,a@b.example,enabled", "numbers", "E.164"),
        ("B1,business,ip,+0335559901,a@b.example,enabled", "numbers", "E.164"),
        ("B1,business,ip,+81335559901; +81335559902,a@b.example,enabled", "numbers", "E.164"),
        ("B1,business,ip,+81335559901,not-an-email,enabled", "email", "e-mail"),
        ("B1,business,ip,+81335559901,a@localhost,enabled", "email", "e-mail"),
        ("B1,business,ip,+81335559901,a b@c.example,enabled", "email", "e-mail"),
        ("B1,business,ip,+81335559901,a@b.example,blocked", "intl_status", "enabled or"),
        ("B1,business,ip,+81335559901,a@b.example", None, "expected 6 fields, got 5"),
    ],
)
def test_subscriber_validation_rules(
    tmp_path: Path, line: str, field: str | None, reason: str
) -> None:
    (item,) = list(read_subscribers(write(tmp_path, SUB_HEADER + line + "\n")))
    assert isinstance(item, QuarantinedRow)
    assert (item.field, item.line, item.raw) == (field, 2, line)
    assert reason in item.reason


def test_subscriber_equipment_limits(tmp_path: Path) -> None:
    header = SUB_HEADER.strip() + ",equipment\n"
    text = header + GOOD_SUB + "," + "E" * 257 + "\n" + GOOD_SUB.replace("B1", "B2", 1)
    text = text.replace("+81335559901", "+81335559902", 2) + ",PBX\x07\n"
    items = list(read_subscribers(write(tmp_path, text)))
    assert [(q.field, q.line) for q in items if isinstance(q, QuarantinedRow)] == [
        ("equipment", 2),
        ("equipment", 3),
    ]


def test_subscriber_duplicates_and_shared_numbers(tmp_path: Path) -> None:
    text = SUB_HEADER + GOOD_SUB + "\n"
    text += "B1,residential,pstn,+81335559902,x@y.example,enabled\n"  # same id
    text += "B3,residential,pstn,+81335559901,x@y.example,enabled\n"  # B1's number
    text += "B4,residential,pstn,+81335559904,x@y.example,enabled\n"
    good, bad = split(list(read_subscribers(write(tmp_path, text))))
    assert [s.subscriber_id for s in good if isinstance(s, Subscriber)] == ["B1", "B4"]
    assert [(q.line, q.reason) for q in bad] == [
        (3, "duplicate subscriber_id"),
        (4, "+81335559901 already belongs to subscriber B1"),
    ]


def test_subscribers_bad_sample_quarantines_every_bad_row() -> None:
    good, bad = split(list(read_subscribers(SAMPLES / "bad" / "subscribers.csv")))
    assert [s.subscriber_id for s in good if isinstance(s, Subscriber)] == ["B0001", "B0011"]
    assert [q.line for q in bad] == list(range(3, 12))


# --- header and file errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"call_id,subscriber_id,caller\n", "lacks column(s) callee, start"),
        (b"\n" + CDR_HEADER.encode(), "header) is blank"),
        (CDR_HEADER.strip().encode() + b",call_id\n", "repeats column(s): call_id"),
        (b"call_id,\x82\xa0\n", "not valid UTF-8"),
        (b'"call_id,subscriber_id\n', "malformed CSV quoting"),
    ],
)
def test_unusable_header_raises_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InputFileError, match=re.escape(message)) as caught:
        read_cdrs(path)
    assert caught.value.path == str(path)


def test_missing_file_and_directory_raise(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_cdrs(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="directory"):
        read_subscribers(tmp_path)
    with pytest.raises(InputFileError, match="file not found"):
        read_sip_events(tmp_path / "nope.csv")


# --- CDRs ------------------------------------------------------------------------------------


def test_cdrs_sample_values_and_consistency_with_subscribers() -> None:
    summary = ReadSummary()
    items = list(read_cdrs(SAMPLES / "cdrs.csv", summary=summary))
    assert summary == ReadSummary(rows_read=42, accepted=42, quarantined=0, duplicates=0)
    records = [r for r in items if isinstance(r, CallDetailRecord)]
    first = records[0]
    assert first == CallDetailRecord(
        "013e6eda-75e4-5b3c-beb4-24ee494751e0",
        "S0001",
        "+81335550101",
        "0335551234",
        datetime(2026, 11, 16, 9, 12, 5, tzinfo=JST),
        datetime(2026, 11, 16, 9, 12, 11, tzinfo=JST),
        datetime(2026, 11, 16, 9, 15, 15, tzinfo=JST),
        Disposition.ANSWERED,
        "153.142.20.11",
    )
    pstn = next(r for r in records if r.subscriber_id == "S0004")
    assert pstn.source_ip is None
    v6 = next(r for r in records if r.subscriber_id == "S0006")
    assert v6.source_ip == "240b:10:2c0::5"
    unanswered = next(r for r in records if r.disposition is Disposition.NO_ANSWER)
    assert unanswered.answer is None and unanswered.billable_seconds == 0.0
    subscribers = {
        s.subscriber_id
        for s in read_subscribers(SAMPLES / "subscribers.csv")
        if isinstance(s, Subscriber)
    }
    assert {r.subscriber_id for r in records} <= subscribers
    fraud = [r for r in records if r.source_ip == "91.243.44.18"]
    assert len(fraud) == 9 and all(r.start.hour < 4 for r in fraud)


def test_cdrs_bad_sample() -> None:
    summary = ReadSummary()
    items = list(read_cdrs(SAMPLES / "bad" / "cdrs.csv", summary=summary))
    good, bad = split(items)
    assert [r.call_id for r in good if isinstance(r, CallDetailRecord)] == [
        "b-0001",
        "b-0011",
        "b-0014",
    ]
    assert [q.line for q in bad] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15]
    assert summary == ReadSummary(rows_read=15, accepted=3, quarantined=12, duplicates=1)
    sjis = next(q for q in bad if q.line == 12)
    assert "not valid UTF-8" in sjis.reason and sjis.field is None
    assert sjis.raw.startswith("b-0010,S0007,\\x")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"call_id": ""}, "call_id", "is empty"),
        ({"call_id": "a b"}, "call_id", "contains spaces"),
        ({"subscriber_id": ""}, "subscriber_id", "1-64"),
        ({"subscriber_id": "S 1"}, "subscriber_id", "without spaces"),
        ({"subscriber_id": "S" * 65}, "subscriber_id", "1-64"),
        ({"caller": ""}, "caller", "is empty"),
        ({"caller": "1" * 65}, "caller", "longer than 64"),
        ({"callee": "010-53-5281-4736"}, "callee", "dial string"),
        ({"callee": "*21#"}, "callee", "dial string"),
        ({"callee": "0105352814736#"}, "callee", "dial string"),
        ({"callee": "12"}, "callee", "dial string"),
        ({"callee": "1" * 25}, "callee", "dial string"),
        ({"callee": "+12345"}, "callee", "dial string"),
        ({"callee": "+1234567890123456"}, "callee", "dial string"),
        ({"callee": "+"}, "callee", "dial string"),
        ({"callee": "٠١٢٣٤٥٦"}, "callee", "dial string"),
        ({"callee": ""}, "callee", "dial string"),
        ({"start": "yesterday"}, "start", "not an ISO 8601 time"),
        ({"start": "2026-11-23 09:00:00"}, "start", "no UTC offset"),
        ({"answer": "2026-13-23T09:00:05+09:00"}, "answer", "not an ISO 8601 time"),
        ({"answer": "2026-11-23T09:00:05"}, "answer", "no UTC offset"),
        ({"end": ""}, "end", "not an ISO 8601 time"),
        ({"end": "2026-11-23T09:03:00"}, "end", "no UTC offset"),
        ({"disposition": "answered"}, "disposition", "ANSWERED, NO ANSWER"),
        ({"disposition": "CONGESTION"}, "disposition", "ANSWERED, NO ANSWER"),
        ({"answer": ""}, "answer", "ANSWERED call without answer time"),
        ({"disposition": "BUSY"}, "answer", "BUSY call must have an empty answer"),
        ({"answer": "2026-11-23T08:59:59+09:00"}, "answer", "answer is before start"),
        ({"end": "2026-11-23T08:59:00+09:00"}, "end", "end is before start"),
        ({"end": "2026-11-23T09:00:04+09:00"}, "end", "end is before answer"),
        ({"source_ip": "153.142.20"}, "source_ip", "IPv4 or IPv6"),
        ({"source_ip": "153.142.020.11"}, "source_ip", "IPv4 or IPv6"),
        ({"source_ip": "fe80::1%eth0"}, "source_ip", "IPv4 or IPv6"),
        ({"source_ip": "sip.example"}, "source_ip", "IPv4 or IPv6"),
        ({"call_id": "x" * 257}, "call_id", "longer than 256"),
        ({"caller": "+8133\x00"}, "caller", "control characters"),
        ({"caller": "+8133\u202e"}, "caller", "control characters"),
    ],
)
def test_cdr_validation_rules(
    tmp_path: Path, changes: dict[str, str], field: str, reason: str
) -> None:
    line = cdr_line(**changes)
    item = one_cdr(tmp_path, line)
    assert isinstance(item, QuarantinedRow), item
    assert (item.field, item.line, item.raw) == (field, 2, line)
    assert reason in item.reason
    assert item.source == str(tmp_path / "input.csv")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GOOD_CDR + ",extra", "expected 9 fields, got 10"),
        (GOOD_CDR.rsplit(",", 1)[0], "expected 9 fields, got 8"),
        ('c1,"S0001,+81335550101', "malformed CSV quoting"),
        ("c1;S0001;+81335550101;0335551234", "expected 9 fields, got 1"),
    ],
)
def test_cdr_row_shape_rules(tmp_path: Path, line: str, reason: str) -> None:
    item = one_cdr(tmp_path, line)
    assert isinstance(item, QuarantinedRow)
    assert item.field is None and reason in item.reason


@pytest.mark.parametrize(
    "callee",
    [
        "0105352814736",
        "0335551234",
        "00442079460123",
        "011442079460123",
        "+14155550123",
        "110",
        "0033010639171234567",
        "+882161234567",
        "1" * 24,
    ],
)
def test_cdr_accepts_dial_strings_as_recorded(tmp_path: Path, callee: str) -> None:
    item = one_cdr(tmp_path, cdr_line(callee=callee))
    assert isinstance(item, CallDetailRecord) and item.callee == callee


def test_cdr_accepted_variants(tmp_path: Path) -> None:
    lines = [
        cdr_line(call_id="v1", source_ip=""),
        cdr_line(call_id="v2", source_ip="2001:DB8:0:0::1"),
        cdr_line(
            call_id="v3",
            start="2026-11-23T00:00:00Z",
            answer="2026-11-23T00:00:00.250000+00:00",
            end="2026-11-23T09:00:01.5+09:00",
        ),
        cdr_line(call_id="v4", disposition="FAILED", answer=""),
        '"v5","S0001","Reception, 1F",0335551234,2026-11-23T09:00:00+09:00,,'
        '2026-11-23T09:00:10+09:00,"NO ANSWER",',
        cdr_line(call_id="v6", caller="鈴木花子"),
    ]
    text = CDR_HEADER + "\r\n".join(lines) + "\r\n"
    records = list(read_cdrs(write(tmp_path, b"\xef\xbb\xbf" + text.encode())))
    assert all(isinstance(r, CallDetailRecord) for r in records), records
    by_id = {r.call_id: r for r in records if isinstance(r, CallDetailRecord)}
    assert by_id["v1"].source_ip is None
    assert by_id["v2"].source_ip == "2001:db8::1"
    assert by_id["v3"].start == datetime(2026, 11, 23, tzinfo=UTC)
    assert by_id["v3"].answer is not None and by_id["v3"].answer.microsecond == 250000
    assert by_id["v3"].end - by_id["v3"].start == timedelta(seconds=1.5)
    assert by_id["v4"].disposition is Disposition.FAILED and by_id["v4"].answer is None
    assert by_id["v5"].caller == "Reception, 1F" and by_id["v5"].source_ip is None
    assert by_id["v6"].caller == "鈴木花子"


def test_cdr_header_order_and_extra_columns(tmp_path: Path) -> None:
    header = "source_ip,disposition,end,answer,start,callee,caller,subscriber_id,call_id,note\n"
    line = (
        ",NO ANSWER,2026-11-23T09:00:30+09:00,,2026-11-23T09:00:00+09:00,0120444444,"
        "+81505550612,S0006,x1,whatever\n"
    )
    (record,) = list(read_cdrs(write(tmp_path, header + line)))
    assert record == CallDetailRecord(
        "x1",
        "S0006",
        "+81505550612",
        "0120444444",
        datetime(2026, 11, 23, 9, 0, tzinfo=JST),
        None,
        datetime(2026, 11, 23, 9, 0, 30, tzinfo=JST),
        Disposition.NO_ANSWER,
        None,
    )


def test_cdr_line_numbers_are_physical_and_blank_lines_skipped(tmp_path: Path) -> None:
    text = (
        CDR_HEADER + "\n" + cdr_line(call_id="a") + "\n   \n" + "junk\n\n" + cdr_line(call_id="b")
    )  # no final newline
    items = list(read_cdrs(write(tmp_path, text)))
    assert [(type(i).__name__, getattr(i, "line", None)) for i in items] == [
        ("CallDetailRecord", None),
        ("QuarantinedRow", 5),
        ("CallDetailRecord", None),
    ]


def test_cdr_overlong_line_is_quarantined_and_neighbours_kept(tmp_path: Path) -> None:
    text = CDR_HEADER + cdr_line(call_id="a") + "\n" + "x" * 100_000 + "\n" + cdr_line(call_id="b")
    items = list(read_cdrs(write(tmp_path, text)))
    assert [getattr(i, "call_id", None) for i in items] == ["a", None, "b"]
    bad = items[1]
    assert isinstance(bad, QuarantinedRow)
    assert bad.line == 3 and "longer than 4096 bytes" in bad.reason and len(bad.raw) < 2100


def test_cdr_duplicates_within_a_file(tmp_path: Path) -> None:
    text = CDR_HEADER + cdr_line() + "\n" + cdr_line(caller="+81335550102") + "\n"
    summary = ReadSummary()
    items = list(read_cdrs(write(tmp_path, text), summary=summary))
    assert isinstance(items[0], CallDetailRecord) and items[0].caller == "+81335550101"
    assert isinstance(items[1], QuarantinedRow)
    assert (items[1].field, items[1].reason, items[1].line) == ("call_id", DUPLICATE_CALL_ID, 3)
    assert summary.duplicates == 1
    kept = list(read_cdrs(tmp_path / "input.csv", dedupe=False))
    assert all(isinstance(r, CallDetailRecord) for r in kept) and len(kept) == 2


def test_a_bad_row_does_not_block_a_later_good_row_with_its_call_id(tmp_path: Path) -> None:
    text = CDR_HEADER + cdr_line(disposition="??") + "\n" + cdr_line() + "\n"
    items = list(read_cdrs(write(tmp_path, text)))
    assert isinstance(items[0], QuarantinedRow) and isinstance(items[1], CallDetailRecord)


def test_read_summary_track_add_and_merge(tmp_path: Path) -> None:
    path = SAMPLES / "bad" / "cdrs.csv"
    tracked = ReadSummary()
    items = list(tracked.track(read_cdrs(path)))
    assert len(items) == 15
    assert tracked == ReadSummary(rows_read=15, accepted=3, quarantined=12, duplicates=1)
    total = ReadSummary()
    total.merge(tracked)
    total.merge(tracked)
    assert total == ReadSummary(rows_read=30, accepted=6, quarantined=24, duplicates=2)


def test_summary_is_filled_when_iteration_stops_early() -> None:
    summary = ReadSummary()
    reader = read_cdrs(SAMPLES / "cdrs.csv", summary=summary)
    first = next(reader)
    assert isinstance(first, CallDetailRecord)
    reader.close()  # type: ignore[attr-defined]
    assert summary == ReadSummary(rows_read=1, accepted=1, quarantined=0, duplicates=0)


# --- SIP events ------------------------------------------------------------------------------


def test_sip_events_sample_values() -> None:
    summary = ReadSummary()
    events = [e for e in read_sip_events(SAMPLES / "sip_events.csv", summary=summary)]
    assert summary.accepted == 38 and summary.quarantined == 0
    assert events[0] == SipSecurityEvent(
        datetime(2026, 11, 16, 8, 55, 2, tzinfo=JST),
        "153.142.20.11",
        "S0001",
        SipEventKind.REGISTER,
        "NEC UNIVERGE SV9100/10.0",
    )
    attack = [
        e
        for e in events
        if isinstance(e, SipSecurityEvent)
        and e.source_ip == "91.243.44.18"
        and e.event is SipEventKind.AUTH_FAILURE
    ]
    assert len(attack) == 12 and {e.username for e in attack} == {"S0003"}
    anonymous = events[-1]
    assert isinstance(anonymous, SipSecurityEvent)
    assert (anonymous.username, anonymous.user_agent) == ("", "")


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (GOOD_SIP.replace("T02:00:00+09:00", " 02:00:00"), "time", "no UTC offset"),
        (GOOD_SIP.replace("2026-11-23T02:00:00+09:00", "now"), "time", "not an ISO 8601"),
        (GOOD_SIP.replace("45.95.147.12", "45.95.147"), "source_ip", "IPv4 or IPv6"),
        (GOOD_SIP.replace("45.95.147.12", ""), "source_ip", "is empty"),
        (GOOD_SIP.replace("auth_failure", "invite"), "event", "auth_failure, auth_success"),
        (GOOD_SIP.rsplit(",", 1)[0], None, "expected 5 fields, got 4"),
        (GOOD_SIP.replace("friendly-scanner", "x" * 300), "user_agent", "longer than 256"),
    ],
)
def test_sip_event_validation_rules(
    tmp_path: Path, line: str, field: str | None, reason: str
) -> None:
    (item,) = list(read_sip_events(write(tmp_path, SIP_HEADER + line + "\n")))
    assert isinstance(item, QuarantinedRow)
    assert (item.field, item.line) == (field, 2)
    assert reason in item.reason


def test_sip_events_bad_sample() -> None:
    good, bad = split(list(read_sip_events(SAMPLES / "bad" / "sip_events.csv")))
    assert [q.line for q in bad] == [3, 4, 5, 6, 7]
    last = good[-1]
    assert isinstance(last, SipSecurityEvent) and last.user_agent == "Zoiper rv2.10.20, build 6140"


def test_subscriber_with_a_block_of_100_numbers(tmp_path: Path) -> None:
    block = ";".join(f"+8133555{n:04d}" for n in range(100))
    text = SUB_HEADER + f"B1,business,ip,{block},ops@firm.example,enabled\n"
    text += f"B2,business,ip,{block.replace('+8133', '+8166')};+81665559999,x@y.example,enabled\n"
    first, second = list(read_subscribers(write(tmp_path, text)))
    assert isinstance(first, Subscriber) and len(first.numbers) == 100
    assert isinstance(second, QuarantinedRow)
    assert (second.field, second.reason) == ("numbers", "more than 100 numbers")
