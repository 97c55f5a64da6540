"""Readers of switch CDR formats (Asterisk, FreeSWITCH, Kamailio) and format detection."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tollguard.adapters.readers import (
    DUPLICATE_CALL_ID,
    CdrFormat,
    InputFileError,
    ReadSummary,
    detect_cdr_format,
    read_any_cdrs,
    read_asterisk_master_csv,
    read_freeswitch_csv,
    read_freeswitch_json,
    read_kamailio_acc_cdrs,
)
from tollguard.domain.records import CallDetailRecord, Disposition, QuarantinedRow

SWITCH = Path(__file__).resolve().parent.parent / "samples" / "switch"
JST = timezone(timedelta(hours=9))


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def write(tmp_path: Path, content: str | bytes, name: str = "input.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def records(items: list[CallDetailRecord | QuarantinedRow]) -> list[CallDetailRecord]:
    return [i for i in items if isinstance(i, CallDetailRecord)]


def quarantined(items: list[CallDetailRecord | QuarantinedRow]) -> list[QuarantinedRow]:
    return [i for i in items if isinstance(i, QuarantinedRow)]


# --- Asterisk --------------------------------------------------------------------------------

BASE16 = (
    '"S0003","201","0105352814736","from-internal","""Reception"" <201>",'
    '"PJSIP/201-0000003a","PJSIP/ntt-trunk-0000003b","Dial","PJSIP/0105352814736@ntt-trunk,300",'
    '"2026-11-21 01:12:08","2026-11-21 01:12:16","2026-11-21 01:42:26",1818,1810,"ANSWERED",'
    '"DOCUMENTATION"'
)


def test_asterisk_sample_21_columns_merges_legs() -> None:
    summary = ReadSummary()
    items = list(read_asterisk_master_csv(SWITCH / "asterisk_Master.csv", summary=summary))
    assert summary == ReadSummary(rows_read=8, accepted=6, quarantined=1, duplicates=0)
    by_id = {r.call_id: r for r in records(items)}
    assert by_id["1763655128.58"] == CallDetailRecord(
        "1763655128.58",
        "S0003",
        "201",
        "0105352814736",
        jst("2026-11-21 01:12:08"),
        jst("2026-11-21 01:12:16"),
        jst("2026-11-21 01:42:26"),
        Disposition.ANSWERED,
        "91.243.44.18",
    )
    merged = by_id["1763655220.60"]  # CONGESTION leg then ANSWERED leg: the answered one is kept
    assert merged.disposition is Disposition.ANSWERED
    assert merged.start == jst("2026-11-21 01:13:41")
    assert by_id["1763655242.63"].disposition is Disposition.FAILED
    assert by_id["1763446920.32"].answer is None
    assert by_id["1763255410.18"].source_ip is None
    (inbound,) = quarantined(items)
    assert (inbound.line, inbound.field) == (8, "dst")


def test_asterisk_sample_16_and_18_columns() -> None:
    old = records(list(read_asterisk_master_csv(SWITCH / "asterisk_Master_16col.csv")))
    assert [r.call_id for r in old] == [
        "DAHDI/1-1@2026-11-17T08:30:00",
        "DAHDI/1-1@2026-11-19T15:00:00",
        "DAHDI/1-1@2026-11-20T11:11:11",
    ]
    assert old[1].disposition is Disposition.BUSY and old[1].answer is None
    assert old[2].subscriber_id == "S0012" and old[2].caller == "0258341200"
    a2b = records(list(read_asterisk_master_csv(SWITCH / "asterisk_Master_18col.csv")))
    assert [(r.call_id, r.subscriber_id, r.callee, r.source_ip) for r in a2b] == [
        ("1763575511.4321", "1001", "011442079460123", "203.0.113.77"),
        ("1763575562.4323", "1001", "0112348012345678", "203.0.113.77"),
    ]


def test_asterisk_tz_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, BASE16 + "\n")
    (record,) = records(list(read_asterisk_master_csv(path, tz=UTC)))
    assert record.start == datetime(2026, 11, 21, 1, 12, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("extra", "call_id", "source_ip"),
    [
        ('"1763655128.58"', "1763655128.58", None),  # 17: uniqueid
        ('"pbx1-1763655128.58"', "pbx1-1763655128.58", None),  # 17: uniqueid with systemname
        ('"203.0.113.9"', "PJSIP/201-0000003a@2026-11-21T01:12:08", "203.0.113.9"),  # 17: userfield
        ('"1763655128.58","ip=2001:db8::7"', "1763655128.58", "2001:db8::7"),  # 18
        ('"","1763655128.50",3', "1763655128.50", None),  # 19: newcdrcolumns only
        ('"u=1","","1763655128.50",3', "1763655128.50", None),  # 20: userfield + new
    ],
)
def test_asterisk_column_variants(
    tmp_path: Path, extra: str, call_id: str, source_ip: str | None
) -> None:
    path = write(tmp_path, BASE16 + "," + extra + "\n")
    (record,) = list(read_asterisk_master_csv(path))
    assert isinstance(record, CallDetailRecord), record
    assert (record.call_id, record.source_ip) == (call_id, source_ip)


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (BASE16.rsplit(",", 1)[0], None, "expected 16 to 21 fields"),
        (BASE16 + ',"a","b","c","d","e","f"', None, "expected 16 to 21 fields"),
        (BASE16.replace('"ANSWERED"', '"UNKNOWN"'), "disposition", "CONGESTION"),
        (BASE16.replace('"0105352814736",', '"s",', 1), "dst", "dial string"),
        (BASE16.replace('"S0003","201"', '"","201 x"'), "accountcode", "subscriber id"),
        (BASE16.replace('"S0003","201"', '"S0003",""').replace("<201>", ""), "src", "caller"),
        (BASE16.replace('"2026-11-21 01:12:16"', ""), "answer", "without answer time"),
        (BASE16.replace('"2026-11-21 01:12:08"', '"21/11/2026 01:12"'), "start", "not a time"),
        (BASE16.replace('"2026-11-21 01:42:26"', '"2026-11-21 01:00:00"'), "end", "before"),
        (BASE16.replace(",1818,", ",-5,"), "duration", "whole number"),
        (BASE16 + ',"1763655128.58","src_ip=999.1.1.1"', "userfield", "not an IPv4"),
        (BASE16.replace('"201",', '"201\x01",', 1), "src", "control characters"),
    ],
)
def test_asterisk_validation_rules(
    tmp_path: Path, line: str, field: str | None, reason: str
) -> None:
    (item,) = list(read_asterisk_master_csv(write(tmp_path, line + "\n")))
    assert isinstance(item, QuarantinedRow), item
    assert (item.field, item.line) == (field, 1)
    assert reason in item.reason


def test_asterisk_unanswered_answer_time_is_dropped(tmp_path: Path) -> None:
    line = BASE16.replace('"ANSWERED"', '"NO ANSWER"')  # old Asterisk versions wrote an answer
    (record,) = list(read_asterisk_master_csv(write(tmp_path, line + "\n")))
    assert isinstance(record, CallDetailRecord)
    assert record.answer is None and record.disposition is Disposition.NO_ANSWER


def test_asterisk_group_window_and_late_duplicates(tmp_path: Path) -> None:
    leg = BASE16 + ',"1763655128.58","","","1763655128.58",0'
    filler = BASE16 + ',"9.1","","","1763660000.{n}",0'
    lines = [leg, *(filler.format(n=n) for n in range(3)), leg[:-1] + "1"]
    text = "\n".join(lines) + "\n"
    merged = list(read_asterisk_master_csv(write(tmp_path, text)))
    assert len(records(merged)) == 4 and not quarantined(merged)
    summary = ReadSummary()
    split = list(read_asterisk_master_csv(tmp_path / "input.csv", group_window=2, summary=summary))
    (dup,) = quarantined(split)
    assert (dup.line, dup.reason) == (5, DUPLICATE_CALL_ID)
    assert summary.duplicates == 1


# --- FreeSWITCH CSV --------------------------------------------------------------------------

FS_LINE = (
    '"Yamada Taro","+81505550612","0105352814736","default","2026-11-21 01:12:08",'
    '"2026-11-21 01:12:16","2026-11-21 01:42:26","1818","1810","NORMAL_CLEARING",'
    '"5b0f6c1e-3c1a-4f6e-9d8e-2a1b3c4d5e99","","S0006","PCMU","PCMU"'
)


NO_CAUSE = FS_LINE.replace('"2026-11-21 01:12:16"', '""').replace("NORMAL_CLEARING", "")


def test_freeswitch_csv_sample() -> None:
    items = list(read_freeswitch_csv(SWITCH / "freeswitch_example.csv"))
    assert not quarantined(items)
    got = records(items)
    assert got[0] == CallDetailRecord(
        "5b0f6c1e-3c1a-4f6e-9d8e-2a1b3c4d5e01",
        "S0006",
        "+81505550612",
        "09033334444",
        jst("2026-11-16 20:10:00"),
        jst("2026-11-16 20:10:08"),
        jst("2026-11-16 20:21:08"),
        Disposition.ANSWERED,
        None,
    )
    assert [r.disposition for r in got[2:4]] == [Disposition.FAILED, Disposition.NO_ANSWER]
    assert got[5].disposition is Disposition.BUSY


@pytest.mark.parametrize(
    ("cause", "disposition"),
    [
        ("USER_BUSY", Disposition.BUSY),
        ("NO_ANSWER", Disposition.NO_ANSWER),
        ("ORIGINATOR_CANCEL", Disposition.NO_ANSWER),
        ("NO_USER_RESPONSE", Disposition.NO_ANSWER),
        ("CALL_REJECTED", Disposition.FAILED),
        ("UNALLOCATED_NUMBER", Disposition.FAILED),
        ("NORMAL_TEMPORARY_FAILURE", Disposition.FAILED),
    ],
)
def test_freeswitch_hangup_cause_mapping(
    tmp_path: Path, cause: str, disposition: Disposition
) -> None:
    line = FS_LINE.replace('"2026-11-21 01:12:16"', '""').replace("NORMAL_CLEARING", cause)
    (record,) = list(read_freeswitch_csv(write(tmp_path, line + "\n")))
    assert isinstance(record, CallDetailRecord) and record.disposition is disposition


def test_freeswitch_csv_13_columns(tmp_path: Path) -> None:
    line = FS_LINE.rsplit(",", 2)[0]
    (record,) = list(read_freeswitch_csv(write(tmp_path, line + "\n"), tz=UTC))
    assert isinstance(record, CallDetailRecord)
    assert record.start == datetime(2026, 11, 21, 1, 12, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (FS_LINE.rsplit(",", 1)[0], None, "expected 15 fields"),
        (FS_LINE.replace('"0105352814736"', '"*98"'), "destination_number", "dial string"),
        (FS_LINE.replace('"2026-11-21 01:12:08"', '"yesterday"'), "start_stamp", "not a time"),
        (FS_LINE.replace('"2026-11-21 01:12:08"', '""'), "start_stamp", "is empty"),
        (FS_LINE.replace('"1810"', '"1.5"'), "billsec", "whole number"),
        (FS_LINE.replace('"5b0f6c1e-3c1a-4f6e-9d8e-2a1b3c4d5e99"', '""'), "uuid", "call id"),
        (NO_CAUSE, "hangup_cause", "missing"),
        (FS_LINE.replace('"2026-11-21 01:12:16"', '"2026-11-21 01:50:00"'), "end", "before"),
    ],
)
def test_freeswitch_csv_validation_rules(
    tmp_path: Path, line: str, field: str | None, reason: str
) -> None:
    (item,) = list(read_freeswitch_csv(write(tmp_path, line + "\n")))
    assert isinstance(item, QuarantinedRow), item
    assert item.field == field and reason in item.reason


def test_freeswitch_csv_duplicate_uuid(tmp_path: Path) -> None:
    items = list(read_freeswitch_csv(write(tmp_path, FS_LINE + "\n" + FS_LINE + "\n")))
    assert isinstance(items[0], CallDetailRecord)
    assert isinstance(items[1], QuarantinedRow) and items[1].reason == DUPLICATE_CALL_ID


# --- FreeSWITCH JSON -------------------------------------------------------------------------


def fs_doc(**variables: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uuid": "d0c5-0001",
        "sip_received_ip": "153.156.88.40",
        "accountcode": "S0002",
        "hangup_cause": "NORMAL_CLEARING",
        "start_uepoch": "1795234451000000",
        "answer_uepoch": "1795234457500000",
        "end_uepoch": "1795235000000000",
    }
    base.update(variables)
    return {
        "variables": {k: v for k, v in base.items() if v is not None},
        "callflow": [
            {
                "profile_index": "2",
                "caller_profile": {"caller_id_number": "+81662220401", "destination_number": "1"},
            },
            {
                "profile_index": "1",
                "caller_profile": {
                    "caller_id_number": "+81662220401",
                    "destination_number": "0105352814736",
                    "network_addr": "153.156.88.41",
                },
            },
        ],
    }


def test_freeswitch_json_directory_and_lines_samples() -> None:
    summary = ReadSummary()
    items = list(read_freeswitch_json(SWITCH / "freeswitch_json", summary=summary))
    assert summary == ReadSummary(rows_read=2, accepted=2, quarantined=0, duplicates=0)
    first, second = records(items)
    assert first == CallDetailRecord(
        "3f1c9a2e-0b7d-4e55-9c1a-6d2f8e4b7a10",
        "S0002",
        "+81662220402",
        "010662555014",
        jst("2026-11-17 13:20:11"),
        jst("2026-11-17 13:20:22"),
        jst("2026-11-17 13:32:22"),
        Disposition.ANSWERED,
        "153.156.88.40",
    )
    assert second.disposition is Disposition.NO_ANSWER and second.answer is None
    lines = records(list(read_freeswitch_json(SWITCH / "freeswitch_cdrs.jsonl")))
    assert [r.disposition for r in lines] == [
        Disposition.ANSWERED,
        Disposition.FAILED,
        Disposition.ANSWERED,
    ]
    assert {r.source_ip for r in lines} == {"91.243.44.18"}


def test_freeswitch_json_mapping_and_fallbacks(tmp_path: Path) -> None:
    docs = [
        fs_doc(),
        fs_doc(uuid="d0c5-0002", sip_received_ip=None, accountcode=None),
        fs_doc(
            uuid="d0c5-0003",
            start_uepoch=None,
            answer_uepoch=None,
            end_uepoch=None,
            start_stamp="2026-11-21%2001%3A12%3A08",
            end_stamp="2026-11-21 01:12:30",
            hangup_cause="USER_BUSY",
        ),
        fs_doc(uuid="d0c5-0004", answer_uepoch="0", hangup_cause="NO_ANSWER"),
    ]
    text = "\n".join(json.dumps(d) for d in docs) + "\n"
    got = records(list(read_freeswitch_json(write(tmp_path, text, "cdr.jsonl"))))
    assert got[0] == CallDetailRecord(
        "d0c5-0001",
        "S0002",
        "+81662220401",
        "0105352814736",
        datetime(2026, 11, 21, 4, 14, 11, tzinfo=UTC),
        datetime(2026, 11, 21, 4, 14, 17, 500000, tzinfo=UTC),
        datetime(2026, 11, 21, 4, 23, 20, tzinfo=UTC),
        Disposition.ANSWERED,
        "153.156.88.40",
    )
    assert (got[1].subscriber_id, got[1].source_ip) == ("+81662220401", "153.156.88.41")
    assert got[2].start == jst("2026-11-21 01:12:08")
    assert got[2].disposition is Disposition.BUSY
    assert got[3].answer is None and got[3].disposition is Disposition.NO_ANSWER


def test_freeswitch_json_pretty_single_document_and_dict_callflow(tmp_path: Path) -> None:
    doc = fs_doc()
    doc["callflow"] = doc["callflow"][1]
    path = write(tmp_path, json.dumps(doc, indent=2), "one.cdr.json")
    (record,) = list(read_freeswitch_json(path))
    assert isinstance(record, CallDetailRecord) and record.callee == "0105352814736"


@pytest.mark.parametrize(
    ("doc", "field", "reason"),
    [
        ("[1, 2]", None, "not an object"),
        ('{"variables": 3}', "variables", "missing"),
        (json.dumps(fs_doc(start_uepoch="soon")), "start_uepoch", "whole number"),
        (json.dumps(fs_doc(end_uepoch=None)), "end_uepoch", "no end time"),
        (json.dumps(fs_doc(sip_received_ip="10.0.0")), "sip_received_ip", "IPv4"),
        (json.dumps(fs_doc(uuid="")), "uuid", "call id"),
        (json.dumps(fs_doc(start_uepoch="99999999999999999999")), "start_uepoch", "range"),
        ('{"variables": {"uuid": "x"', None, "not valid JSON"),
    ],
)
def test_freeswitch_json_validation_rules(
    tmp_path: Path, doc: str, field: str | None, reason: str
) -> None:
    path = write(tmp_path, json.dumps(fs_doc()) + "\n" + doc + "\n", "cdr.jsonl")
    good, bad = records(items := list(read_freeswitch_json(path))), quarantined(items)
    assert len(good) == 1
    (item,) = bad
    assert (item.field, item.line) == (field, 2)
    assert reason in item.reason


def test_freeswitch_json_broken_single_document_is_one_quarantined_row(tmp_path: Path) -> None:
    text = json.dumps(fs_doc(), indent=2)[:-5]
    (item,) = list(read_freeswitch_json(write(tmp_path, text, "broken.cdr.json")))
    assert isinstance(item, QuarantinedRow) and item.line == 1
    with pytest.raises(InputFileError, match="file not found"):
        read_freeswitch_json(tmp_path / "missing")


# --- Kamailio --------------------------------------------------------------------------------

KAM_HEADER = "start_time,end_time,duration,callid,src_user,src_ip,dst_ouser,sip_code,sip_reason\n"
KAM_LINE = (
    "2026-11-21 01:12:16.002,2026-11-21 01:42:26.411,1810.409,7d1a6b0c@91.243.44.18,"
    "+81522330770,91.243.44.18,0105352814736,200,OK"
)


def test_kamailio_sample() -> None:
    items = list(read_kamailio_acc_cdrs(SWITCH / "kamailio_acc_cdrs.csv"))
    assert not quarantined(items)
    got = records(items)
    assert got[0] == CallDetailRecord(
        "a84b4c76e66710@153.142.20.11",
        "S0001",
        "+81335550101",
        "0335551234",
        jst("2026-11-16 09:12:11.204"),
        jst("2026-11-16 09:12:11.204"),
        jst("2026-11-16 09:15:15.870"),
        Disposition.ANSWERED,
        "153.142.20.11",
    )
    assert [r.disposition for r in got[2:4]] == [Disposition.NO_ANSWER, Disposition.BUSY]
    assert got[5].disposition is Disposition.FAILED and got[5].answer is None


def test_kamailio_tab_export_with_nulls_epochs_and_no_sip_code(tmp_path: Path) -> None:
    text = (
        "id\tstart_time\tend_time\tduration\tcallid\tsrc_user\tsrc_ip\tdst_user\n"
        "1\t1763655136\tNULL\t60.5\tabc@h\t+81522330770\tNULL\t+5352814736\n"
        "2\t2026-11-21T01:12:16+00:00\t2026-11-21T01:13:16+00:00\t60\tdef@h\t201\t10.1.2.3\t110\n"
    )
    first, second = records(list(read_kamailio_acc_cdrs(write(tmp_path, text))))
    assert first.start == datetime.fromtimestamp(1763655136, UTC)
    assert first.end - first.start == timedelta(seconds=60.5)
    assert (first.disposition, first.source_ip, first.callee) == (
        Disposition.ANSWERED,
        None,
        "+5352814736",
    )
    assert second.start == datetime(2026, 11, 21, 1, 12, 16, tzinfo=UTC)
    assert (second.subscriber_id, second.source_ip) == ("201", "10.1.2.3")


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (KAM_LINE.replace(",200,", ",1xx,"), "sip_code", "final response"),
        (KAM_LINE.replace(",200,", ",180,"), "sip_code", "final response"),
        (KAM_LINE.replace("0105352814736", "sip:bob"), "dst_ouser", "dial string"),
        (KAM_LINE.replace("91.243.44.18,0105", "91.243.44,0105"), "src_ip", "IPv4"),
        (KAM_LINE.replace("2026-11-21 01:12:16.002", "tomorrow"), "start_time", "not a time"),
        (KAM_LINE.replace("2026-11-21 01:42:26.411", "2026-11-21 01:00:00"), "end", "before"),
        (KAM_LINE.replace("7d1a6b0c@91.243.44.18", ""), "callid", "is empty"),
        (KAM_LINE.replace(",OK", ""), None, "expected 9 fields"),
    ],
)
def test_kamailio_validation_rules(
    tmp_path: Path, line: str, field: str | None, reason: str
) -> None:
    (item,) = list(read_kamailio_acc_cdrs(write(tmp_path, KAM_HEADER + line + "\n")))
    assert isinstance(item, QuarantinedRow), item
    assert (item.field, item.line) == (field, 2)
    assert reason in item.reason


def test_kamailio_duration_only_and_header_errors(tmp_path: Path) -> None:
    text = "start_time,duration,callid,src_user,dst_user\n2026-11-21 01:00:00,x,c1,201,0335551234\n"
    (item,) = list(read_kamailio_acc_cdrs(write(tmp_path, text)))
    assert isinstance(item, QuarantinedRow) and item.field == "duration"
    with pytest.raises(InputFileError, match="dst_ouser or dst_user"):
        read_kamailio_acc_cdrs(write(tmp_path, "start_time,end_time,callid,src_user\n"))
    with pytest.raises(InputFileError, match="end_time or duration"):
        read_kamailio_acc_cdrs(write(tmp_path, "start_time,callid,src_user,dst_user\n"))


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("asterisk_Master.csv", CdrFormat.ASTERISK),
        ("asterisk_Master_16col.csv", CdrFormat.ASTERISK),
        ("asterisk_Master_18col.csv", CdrFormat.ASTERISK),
        ("freeswitch_example.csv", CdrFormat.FREESWITCH_CSV),
        ("freeswitch_cdrs.jsonl", CdrFormat.FREESWITCH_JSON),
        ("freeswitch_json", CdrFormat.FREESWITCH_JSON),
        ("kamailio_acc_cdrs.csv", CdrFormat.KAMAILIO),
        ("../cdrs.csv", CdrFormat.TOLLGUARD),
        ("../bad/cdrs.csv", CdrFormat.TOLLGUARD),
    ],
)
def test_detect_and_read_any(name: str, fmt: CdrFormat) -> None:
    path = SWITCH / name
    assert detect_cdr_format(path) is fmt
    summary = ReadSummary()
    detected = list(read_any_cdrs(path, summary=summary))
    explicit = list(read_any_cdrs(path, fmt.value))
    assert detected == explicit and summary.accepted > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\n\n", "empty file"),
        (b"hello,world\n", "unknown CDR format"),
        (b"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p\n", "unknown CDR format"),
    ],
)
def test_detect_failures(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(InputFileError, match=re.escape(message)):
        detect_cdr_format(write(tmp_path, content))


def test_detect_missing_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        detect_cdr_format(tmp_path / "nope")
    with pytest.raises(InputFileError, match=r"no \.json files"):
        detect_cdr_format(tmp_path)


def test_detect_skips_a_damaged_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, "garbage from a crashed writer\n" + BASE16 + "\n")
    assert detect_cdr_format(path) is CdrFormat.ASTERISK
    items = list(read_any_cdrs(path))
    assert [type(i).__name__ for i in items] == ["QuarantinedRow", "CallDetailRecord"]
