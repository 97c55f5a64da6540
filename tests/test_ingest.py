"""``ingest_files`` and ``tollguard ingest``: counts, quarantine, idempotence, duplicates."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tollguard.adapters.store import Store
from tollguard.app.ingest import (
    FileSummary,
    IngestError,
    IngestProgress,
    IngestSummary,
    ProgressCallback,
    ingest_files,
)
from tollguard.cli import _register, app

SUBSCRIBERS = """subscriber_id,segment,service,numbers,email,intl_status,equipment
S1,business,ip,+81312345678;+81312345679,pbx@a.example.jp,enabled,PBX-100
S2,residential,pstn,+81612345678,home@b.example.jp,enabled,
S3,business,satellite,+81512345678,c@c.example.jp,enabled,
"""

CDR_HEADER = "call_id,subscriber_id,caller,callee,start,answer,end,disposition,source_ip\n"


def cdr_line(call_id: str, *, sub: str = "S1", callee: str = "+37256123456", hour: int = 23) -> str:
    start = f"2026-03-06T{hour:02d}:00:00+09:00"
    answer = f"2026-03-06T{hour:02d}:00:05+09:00"
    end = f"2026-03-06T{hour:02d}:02:05+09:00"
    return f"{call_id},{sub},+81312345678,{callee},{start},{answer},{end},ANSWERED,203.0.113.7\n"


# c3 is bad (end before start), placed between two good rows; c1 repeats inside the file.
BAD_CDR = (
    "c3,S1,+81312345678,+37256123456,2026-03-06T23:00:00+09:00,,2026-03-06T22:00:00+09:00,"
    "NO ANSWER,\n"
)
CDRS = CDR_HEADER + cdr_line("c1") + cdr_line("c2") + BAD_CDR + cdr_line("c4") + cdr_line("c1")

SIP = """time,source_ip,username,event,user_agent
2026-03-06T23:00:00+09:00,198.51.100.9,1001,auth_failure,friendly-scanner
2026-03-06T23:00:01+09:00,not-an-ip,1001,auth_failure,friendly-scanner
2026-03-06T23:00:02+09:00,198.51.100.9,1002,auth_failure,friendly-scanner
"""

NOW = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    files = {"subscribers": SUBSCRIBERS, "cdrs": CDRS, "sip": SIP}
    out = {}
    for name, text in files.items():
        path = tmp_path / "in" / f"{name}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def run(
    store: Store,
    inputs: dict[str, Path],
    qdir: Path,
    *,
    batch_rows: int = 5000,
    progress: ProgressCallback | None = None,
) -> IngestSummary:
    return ingest_files(
        store,
        [inputs["subscribers"]],
        [inputs["cdrs"]],
        [inputs["sip"]],
        quarantine_dir=qdir,
        clock=lambda: NOW,
        batch_rows=batch_rows,
        progress=progress,
    )


def counts(f: FileSummary) -> tuple[int, int, int, int]:
    return (f.rows_read, f.accepted, f.quarantined, f.duplicates)


def test_ingest_counts_stores_and_rates(
    store: Store, inputs: dict[str, Path], tmp_path: Path
) -> None:
    summary = run(store, inputs, tmp_path / "q")
    subs, cdrs, sip = summary.files
    assert counts(subs) == (3, 2, 1, 0)
    assert counts(cdrs) == (5, 3, 1, 1)
    assert counts(sip) == (3, 2, 1, 0)
    assert (summary.rows_read, summary.accepted, summary.quarantined, summary.duplicates) == (
        11,
        7,
        3,
        1,
    )
    assert [s.subscriber_id for s in store.list_subscribers()] == ["S1", "S2"]
    assert [r.cdr.call_id for r in store.list_cdrs()] == ["c1", "c2", "c4"]
    rated = store.get_cdr("c1")
    assert rated is not None
    assert (rated.callee_e164, rated.country, rated.number_type) == ("+37256123456", "EE", "mobile")
    assert rated.charge_jpy > 0
    assert rated.cdr.start == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert len(store.list_sip_events()) == 2
    files = store.list_ingested_files()
    assert [
        (f.kind, f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_duplicate) for f in files
    ] == [
        ("subscribers", 3, 2, 1, 0),
        ("cdrs", 5, 3, 1, 1),
        ("sip_events", 3, 2, 1, 0),
    ]
    assert all(f.finished_at == NOW for f in files)


def test_quarantine_file_and_table_agree(
    store: Store, inputs: dict[str, Path], tmp_path: Path
) -> None:
    qdir = tmp_path / "q"
    summary = run(store, inputs, qdir)
    qpath = qdir / "cdrs.csv.quarantine.csv"
    assert summary.files[1].quarantine_file == qpath
    with qpath.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["file", "line", "field", "reason", "raw"]
    assert [(r["file"], r["line"], r["field"]) for r in rows] == [(str(inputs["cdrs"]), "4", "end")]
    assert rows[0]["raw"] == BAD_CDR.rstrip("\n")
    (entry,) = store.list_quarantine(source_file=str(inputs["cdrs"]))
    assert (entry.line, entry.field, entry.reason, entry.raw) == (
        4,
        "end",
        rows[0]["reason"],
        rows[0]["raw"],
    )
    assert entry.reason  # says why
    assert {q.source_file for q in store.list_quarantine()} == {
        str(inputs["subscribers"]),
        str(inputs["cdrs"]),
        str(inputs["sip"]),
    }
    sip_q = store.list_quarantine(source_file=str(inputs["sip"]))
    assert [(q.line, q.field) for q in sip_q] == [(3, "source_ip")]


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 5000])
def test_good_rows_around_a_bad_row_are_never_lost(
    store: Store, inputs: dict[str, Path], tmp_path: Path, batch_rows: int
) -> None:
    summary = run(store, inputs, tmp_path / "q", batch_rows=batch_rows)
    assert counts(summary.files[1]) == (5, 3, 1, 1)
    assert store.get_cdr("c2") is not None and store.get_cdr("c4") is not None
    assert store.get_cdr("c3") is None
    assert store.count("quarantine") == 3


def test_reingesting_identical_files_is_a_no_op(
    store: Store, inputs: dict[str, Path], tmp_path: Path
) -> None:
    run(store, inputs, tmp_path / "q")
    before = {t: store.count(t) for t in ("subscribers", "cdrs", "sip_events", "quarantine")}
    again = run(store, inputs, tmp_path / "q")
    assert [f.skipped for f in again.files] == [True, True, True]
    assert (again.rows_read, again.accepted, again.skipped) == (0, 0, 3)
    assert {t: store.count(t) for t in before} == before
    assert (tmp_path / "q" / "cdrs.csv.quarantine.csv").exists()  # kept from the first run


def test_duplicates_across_files(store: Store, tmp_path: Path) -> None:
    first = tmp_path / "day1.csv"
    second = tmp_path / "day2.csv"
    first.write_text(CDR_HEADER + cdr_line("a") + cdr_line("b"), encoding="utf-8")
    second.write_text(CDR_HEADER + cdr_line("b") + cdr_line("c") + cdr_line("a"), encoding="utf-8")
    summary = ingest_files(store, [], [first, second], [], quarantine_dir=tmp_path / "q")
    assert [counts(f) for f in summary.files] == [(2, 2, 0, 0), (3, 1, 0, 2)]
    assert store.count("cdrs") == 3
    assert summary.files[0].quarantine_file is None
    assert not (tmp_path / "q").exists()  # no bad rows, no quarantine files


def test_an_interrupted_ingest_restarts_cleanly(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "cdrs.csv"
    lines = [cdr_line(f"c{i}") for i in range(10)]
    lines.insert(3, BAD_CDR.replace("c3,", "bad,"))
    path.write_text(CDR_HEADER + "".join(lines), encoding="utf-8")

    def crash(p: IngestProgress) -> None:
        if p.rows_done >= 6 and not p.finished:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_files(
            store, [], [path], [], quarantine_dir=tmp_path / "q", progress=crash, batch_rows=3
        )
    assert 0 < store.count("cdrs") < 10
    summary = ingest_files(store, [], [path], [], quarantine_dir=tmp_path / "q", batch_rows=3)
    assert counts(summary.files[0]) == (11, 10, 1, 0)
    assert store.count("cdrs") == 10 and store.count("quarantine") == 1


def test_an_unusable_file_stops_before_anything_is_written(
    store: Store, inputs: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("this,is,not,the,header\n1,2,3,4,5\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"broken\.csv"):
        ingest_files(
            store,
            [inputs["subscribers"]],
            [inputs["cdrs"]],
            [broken],
            quarantine_dir=tmp_path / "q",
        )
    with pytest.raises(IngestError, match="no such file"):
        ingest_files(store, [tmp_path / "missing.csv"], [], [], quarantine_dir=tmp_path / "q")
    assert store.count("subscribers") == 0 and store.count("cdrs") == 0
    assert store.list_ingested_files() == []


def test_progress_is_reported(store: Store, inputs: dict[str, Path], tmp_path: Path) -> None:
    seen: list[IngestProgress] = []
    run(store, inputs, tmp_path / "q", progress=seen.append)
    finals = [p for p in seen if p.finished]
    assert [(p.kind, p.rows_done) for p in finals] == [
        ("subscribers", 3),
        ("cdrs", 5),
        ("sip_events", 3),
    ]


# -- CLI ----------------------------------------------------------------------------------------


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    _register()
    return CliRunner().invoke(app, ["ingest", *args], env=env)


def test_cli_ingest_and_summary(inputs: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    args = [
        "--subscribers",
        str(inputs["subscribers"]),
        "--cdrs",
        str(inputs["cdrs"]),
        "--sip-events",
        str(inputs["sip"]),
        "--quarantine-dir",
        str(tmp_path / "q"),
    ]
    result = invoke([*args, "--db", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output  # quarantined rows are data, not a failure
    assert "Ingest summary" in result.output and "cdrs.csv" in result.output
    with Store.open(path=db) as st:
        assert st.count("cdrs") == 3 and st.count("quarantine") == 3
    again = invoke(args, env={"TOLLGUARD_DB": str(db)})
    assert again.exit_code == 0 and "skipped" in again.output


def test_cli_errors(inputs: dict[str, Path], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    nothing = invoke(["--db", db])
    assert nothing.exit_code == 2 and "nothing to ingest" in nothing.output
    missing = invoke(["--db", db, "--cdrs", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    bad_db = invoke(
        ["--db", "sqlite:////nonexistent-dir/x/y.sqlite", "--cdrs", str(inputs["cdrs"])]
    )
    assert bad_db.exit_code == 1 and "cannot open the database" in bad_db.output


def test_the_same_file_twice_in_one_run(
    store: Store, inputs: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "copy-of-cdrs.csv"
    copy.write_bytes(inputs["cdrs"].read_bytes())
    summary = ingest_files(
        store, [], [inputs["cdrs"], inputs["cdrs"], copy], [], quarantine_dir=tmp_path / "q"
    )
    assert [f.skipped for f in summary.files] == [False, True, True]
    assert counts(summary.files[0]) == (5, 3, 1, 1)
    assert store.count("cdrs") == 3 and store.count("quarantine") == 1


def test_on_record_hands_over_every_good_record_once(
    store: Store, inputs: dict[str, Path], tmp_path: Path
) -> None:
    seen: list[object] = []
    summary = ingest_files(
        store,
        [inputs["subscribers"]],
        [inputs["cdrs"]],
        [inputs["sip"]],
        quarantine_dir=tmp_path / "q",
        batch_rows=2,
        on_record=seen.append,
    )
    assert len(seen) == summary.accepted  # the repeated call id is quarantined, not handed over
    cdr_ids = [str(getattr(r, "call_id", "")) for r in seen if hasattr(r, "callee")]
    assert cdr_ids and len(cdr_ids) == len(set(cdr_ids))
    assert all(store.get_cdr(c) is not None for c in cdr_ids)
    again: list[object] = []
    ingest_files(
        store,
        [inputs["subscribers"]],
        [inputs["cdrs"]],
        [inputs["sip"]],
        quarantine_dir=tmp_path / "q",
        on_record=again.append,
    )
    assert again == []  # files stored before are skipped and not read
