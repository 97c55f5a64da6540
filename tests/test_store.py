"""The store on SQLite and PostgreSQL: migrations, CRUD, controls with audit, the audit chain."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tollguard.adapters.store import (
    RatedCdr,
    Store,
    StoreError,
    metadata,
)
from tollguard.adapters.store.engine import make_engine
from tollguard.adapters.store.migrate import current_revision, downgrade, head_revision, upgrade
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

T0 = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
JST = timezone(timedelta(hours=9))


def cdr(call_id: str, *, sub: str = "S1", start: datetime = T0, seconds: int = 60) -> RatedCdr:
    record = CallDetailRecord(
        call_id=call_id,
        subscriber_id=sub,
        caller="+81312345678",
        callee="+37255512345",
        start=start,
        answer=start + timedelta(seconds=5),
        end=start + timedelta(seconds=5 + seconds),
        disposition=Disposition.ANSWERED,
        source_ip="203.0.113.7",
    )
    return RatedCdr(record, "+37255512345", "EE", "mobile", 120.5)


def tamper(store: Store, sql: str) -> None:
    """Change the audit log behind the store's back, the way an intruder with DB access would."""
    with store.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
            conn.exec_driver_sql(sql)
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            conn.exec_driver_sql(sql)
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


# -- migrations ---------------------------------------------------------------------------------


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    factory: Callable[[], str] = request.getfixturevalue("pg_database")
    return factory()


def test_upgrade_head_matches_metadata(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
            tables = set(sa.inspect(conn).get_table_names())
        assert tables == set(metadata.tables) | {"alembic_version"}
        downgrade(engine, "base")
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) == {"alembic_version"}
        upgrade(engine)  # and back up again: the migration is re-runnable
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_compare_detects_a_drifted_schema(tmp_path: Path) -> None:
    """The comparison above can fail: a column missing from the database is reported."""
    engine = make_engine(f"sqlite:///{tmp_path / 'drift.sqlite'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE cases DROP COLUMN closed_at")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert any(d[0] == "add_column" and d[3].name == "closed_at" for d in diff)


def test_sqlite_pragmas_and_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Store.open() as st, st.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert (tmp_path / "tollguard.sqlite").exists()


def test_open_twice_is_a_no_op_migration(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with Store.open(path=path) as st:
        st.set_input_offset("cdrs.csv", 10, at=T0)
    with Store.open(path=path) as st:
        offset = st.get_input_offset("cdrs.csv")
    assert offset is not None and offset.position == 10


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        Store(sa.create_mock_engine("mysql://", executor=print))  # type: ignore[arg-type]


# -- records ------------------------------------------------------------------------------------


def test_subscribers_upsert(store: Store) -> None:
    a = Subscriber(
        "S1", Segment.BUSINESS, Service.IP, ("+81312345678",), "a@x.jp", IntlStatus.ENABLED
    )
    b = Subscriber(
        "S2", Segment.RESIDENTIAL, Service.PSTN, (), "b@x.jp", IntlStatus.SUSPENDED, "PBX-9"
    )
    assert store.upsert_subscribers([a, b], at=T0) == 2
    assert store.list_subscribers() == [a, b]
    a2 = Subscriber(
        "S1",
        Segment.BUSINESS,
        Service.IP,
        ("+81312345678", "+81312345679"),
        "a@x.jp",
        IntlStatus.SUSPENDED,
    )
    store.upsert_subscribers([a2], at=T0)
    assert store.get_subscriber("S1") == a2
    assert store.get_subscriber("nobody") is None
    assert store.count("subscribers") == 2


def test_insert_cdrs_counts_new_and_duplicate(store: Store) -> None:
    first = store.insert_cdrs([cdr("c1"), cdr("c2"), cdr("c2")], at=T0)
    assert (first.new, first.duplicate) == (2, 1)
    again = store.insert_cdrs([cdr("c2"), cdr("c3")], at=T0)
    assert (again.new, again.duplicate) == (1, 1)
    assert store.count("cdrs") == 3
    stored = store.get_cdr("c1")
    assert stored == cdr("c1")
    assert stored is not None and stored.cdr.billable_seconds == 60


def test_times_are_aware_utc_on_the_way_out(store: Store) -> None:
    local = datetime(2026, 3, 7, 7, 0, 0, 123456, tzinfo=JST)
    store.insert_cdrs([cdr("c1", start=local)], at=T0)
    got = store.get_cdr("c1")
    assert got is not None
    assert got.cdr.start == local
    assert got.cdr.start.tzinfo == UTC and got.cdr.start.hour == 22
    assert [r.cdr.call_id for r in store.list_cdrs(since=T0, until=T0 + timedelta(hours=1))] == [
        "c1"
    ]
    assert store.list_cdrs(since=T0 + timedelta(seconds=1)) == []


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.set_input_offset("x", 1, at=datetime(2026, 1, 1))


def test_sip_events_and_quarantine(store: Store) -> None:
    ev = SipSecurityEvent(T0, "198.51.100.9", "1001", SipEventKind.AUTH_FAILURE, "friendly-scanner")
    assert store.insert_sip_events([ev, ev]) == 2
    assert store.list_sip_events(source_ip="198.51.100.9") == [ev, ev]
    bad = QuarantinedRow("cdrs.csv", 7, "start", "not a timestamp", "c9,S1,+81,...")
    assert store.add_quarantine([bad], at=T0) == 1
    (entry,) = store.list_quarantine(source_file="cdrs.csv")
    assert (entry.source_file, entry.line, entry.field, entry.reason, entry.raw) == (
        "cdrs.csv",
        7,
        "start",
        "not a timestamp",
        "c9,S1,+81,...",
    )


def test_interrupted_ingest_is_cleaned_on_restart(store: Store) -> None:
    rec = store.start_ingested_file("cdrs", "a.csv", "ab" * 32, 100, at=T0)
    assert rec.finished_at is None
    store.insert_cdrs([cdr("c1")], at=T0, file_id=rec.id)
    store.add_quarantine([QuarantinedRow("a.csv", 3, None, "bad", "x")], at=T0, file_id=rec.id)
    # the process dies here; the next run starts the same content again
    again = store.start_ingested_file("cdrs", "a.csv", "ab" * 32, 100, at=T0)
    assert again.id == rec.id
    assert store.count("cdrs") == 0 and store.count("quarantine") == 0
    store.insert_cdrs([cdr("c1")], at=T0, file_id=again.id)
    store.finish_ingested_file(
        again.id, rows_read=2, rows_accepted=1, rows_quarantined=1, rows_duplicate=0, at=T0
    )
    done = store.find_ingested_file("cdrs", "ab" * 32)
    assert done is not None and done.finished_at == T0 and done.rows_read == 2
    with pytest.raises(StoreError, match="already ingested"):
        store.start_ingested_file("cdrs", "a.csv", "ab" * 32, 100, at=T0)


# -- controls -----------------------------------------------------------------------------------


def test_controls_lifecycle_is_audited(store: Store) -> None:
    susp = store.create_control(
        "suspension",
        "S1",
        reason="charges x40, unreachable",
        created_by="policy",
        at=T0,
        expires_at=T0 + timedelta(hours=12),
        evidence={"score": 0.97, "calls": ("c1", "c2")},
    )
    block = store.create_control(
        "ip_block", "198.51.100.9", reason="auth flood", created_by="policy", at=T0
    )
    assert susp.evidence == {"score": 0.97, "calls": ["c1", "c2"]}
    assert {c.id for c in store.active_controls(T0)} == {susp.id, block.id}
    assert store.active_controls(T0 - timedelta(seconds=1)) == []
    assert [c.id for c in store.active_controls(T0 + timedelta(hours=12))] == [block.id]
    assert [c.id for c in store.active_controls(T0, kind="suspension", subject="S1")] == [susp.id]

    lifted = store.lift_control(
        block.id, by="operator:kato", reason="customer confirmed", at=T0 + timedelta(hours=1)
    )
    assert lifted.lifted_by == "operator:kato" and lifted.lift_reason == "customer confirmed"
    assert [c.id for c in store.active_controls(T0 + timedelta(minutes=59))] == [susp.id, block.id]
    assert [c.id for c in store.active_controls(T0 + timedelta(hours=1))] == [susp.id]
    with pytest.raises(StoreError, match="already lifted"):
        store.lift_control(block.id, by="x", reason="y", at=T0 + timedelta(hours=2))
    with pytest.raises(StoreError, match="no control"):
        store.lift_control(999, by="x", reason="y", at=T0)
    assert len(store.list_controls()) == 2

    actions = [(e.action, e.subject, e.actor) for e in store.list_audit()]
    assert actions == [
        ("control.create", "suspension:S1", "policy"),
        ("control.create", "ip_block:198.51.100.9", "policy"),
        ("control.lift", "ip_block:198.51.100.9", "operator:kato"),
    ]
    assert store.verify_audit_chain() == (True, None)


def test_control_and_its_audit_commit_together(store: Store) -> None:
    with pytest.raises(RuntimeError), store.begin() as conn:
        store.create_control(
            "country_restriction", "EE", reason="burst", created_by="policy", at=T0, conn=conn
        )
        raise RuntimeError("crash before commit")
    assert store.list_controls() == [] and store.list_audit() == []


def test_control_validation(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown control kind"):
        store.create_control("teleport", "S1", reason="r", created_by="p", at=T0)
    with pytest.raises(StoreError, match="expire after"):
        store.create_control("suspension", "S1", reason="r", created_by="p", at=T0, expires_at=T0)
    assert store.list_audit() == []


# -- cases, destinations, snapshots -------------------------------------------------------------


def test_cases_and_contact_attempts(store: Store) -> None:
    case = store.open_case("S1", at=T0, score=0.9, evidence={"ratio": 41.0})
    assert case.status == "open" and case.closed_at is None
    store.add_contact_attempt(
        case.id, channel="phone", at=T0 + timedelta(minutes=1), outcome="busy", by="policy"
    )
    store.add_contact_attempt(
        case.id,
        channel="email",
        at=T0 + timedelta(minutes=2),
        outcome="no_reply",
        by="policy",
        note="sent to a@x.jp",
    )
    attempts = store.list_contact_attempts(case.id)
    assert [(a.channel, a.outcome) for a in attempts] == [("phone", "busy"), ("email", "no_reply")]
    moved = store.update_case(
        case.id,
        status="suspended",
        at=T0 + timedelta(minutes=3),
        by="policy",
        reason="unreachable",
        score=0.95,
    )
    assert moved.status == "suspended" and moved.score == 0.95
    assert [c.id for c in store.list_cases(open_only=True)] == [case.id]
    closed = store.update_case(
        case.id,
        status="closed",
        at=T0 + timedelta(hours=9),
        by="op",
        reason="customer confirmed fraud",
        close=True,
    )
    assert closed.closed_at == T0 + timedelta(hours=9)
    assert store.list_cases(open_only=True) == []
    assert store.get_case(case.id) == closed
    with pytest.raises(StoreError, match="no open case"):
        store.update_case(case.id, status="x", at=T0, by="op", reason="r")
    with pytest.raises(StoreError, match="no case"):
        store.add_contact_attempt(999, channel="phone", at=T0, outcome="busy", by="p")
    assert [e.action for e in store.list_audit(subject="subscriber:S1")] == [
        "case.open",
        "case.contact",
        "case.contact",
        "case.update",
        "case.close",
    ]


def test_restricted_destinations(store: Store) -> None:
    criteria = {
        "no_government_traffic": True,
        "no_life_critical_traffic": True,
        "normal_traffic": {"minutes": 12, "period_days": 30},
    }
    d = store.put_restricted_destination(
        "country",
        "EE",
        criteria=criteria,
        provenance="customer reports 2015-06",
        added_by="op:sato",
        at=T0,
    )
    assert d.criteria == criteria
    store.put_restricted_destination(
        "range", "+88213", criteria={}, provenance="intel", added_by="op:sato", at=T0
    )
    updated = store.put_restricted_destination(
        "country",
        "EE",
        criteria={**criteria, "normal_traffic": {"minutes": 3}},
        provenance="review",
        added_by="op:ito",
        at=T0 + timedelta(days=1),
    )
    assert updated.id == d.id and updated.added_by == "op:ito"
    assert [(x.kind, x.value) for x in store.list_restricted_destinations()] == [
        ("country", "EE"),
        ("range", "+88213"),
    ]
    assert store.remove_restricted_destination("range", "+88213", by="op", reason="x", at=T0)
    assert not store.remove_restricted_destination("range", "+88213", by="op", reason="x", at=T0)
    assert [x.value for x in store.list_restricted_destinations(kind="range")] == []
    with pytest.raises(StoreError):
        store.put_restricted_destination(
            "planet", "Mars", criteria={}, provenance="", added_by="op", at=T0
        )
    assert [e.action for e in store.list_audit()] == [
        "destination_list.add",
        "destination_list.add",
        "destination_list.update",
        "destination_list.remove",
    ]


def test_snapshots_and_offsets(store: Store) -> None:
    assert store.load_snapshot("engine") is None
    store.save_snapshot("engine", at=T0, offsets={"cdrs.csv": 10}, state=b"\x00one")
    store.save_snapshot(
        "engine", at=T0 + timedelta(minutes=5), offsets={"cdrs.csv": 20}, state=b"\x00two", keep=1
    )
    snap = store.load_snapshot("engine")
    assert snap is not None and snap.state == b"\x00two" and snap.offsets == {"cdrs.csv": 20}
    assert store.count("engine_snapshots") == 1
    store.set_input_offset("cdrs.csv", 100, at=T0, detail={"inode": 5})
    store.set_input_offset("cdrs.csv", 250, at=T0 + timedelta(seconds=1))
    off = store.get_input_offset("cdrs.csv")
    assert off is not None and (off.position, off.detail) == (250, {})
    assert store.get_input_offset("other") is None


# -- audit chain --------------------------------------------------------------------------------


def _fill_audit(store: Store, n: int) -> None:
    for i in range(n):
        store.append_audit(
            actor="policy",
            action="alert",
            subject=f"subscriber:S{i}",
            reason="test",
            at=T0 + timedelta(seconds=i),
            evidence={"i": i, "ratio": i / 3},
        )


def test_audit_chain_links_entries(store: Store) -> None:
    _fill_audit(store, 5)
    entries = store.list_audit()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert store.verify_audit_chain() == (True, None)


def test_audit_log_is_append_only(store: Store) -> None:
    _fill_audit(store, 2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 2")
    assert store.verify_audit_chain() == (True, None)


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE audit_log SET reason = 'routine' WHERE seq = 3", 3),
        ("UPDATE audit_log SET actor = 'nobody' WHERE seq = 1", 1),
        ("DELETE FROM audit_log WHERE seq = 4", 4),
        ("UPDATE audit_log SET time = time WHERE seq = 2", None),  # no real change: still valid
    ],
)
def test_audit_chain_detects_tampering(store: Store, sql: str, bad_seq: int | None) -> None:
    _fill_audit(store, 6)
    tamper(store, sql)
    assert store.verify_audit_chain() == ((True, None) if bad_seq is None else (False, bad_seq))


def test_audit_chain_detects_a_recomputed_row(store: Store) -> None:
    """Rewriting a row *and* its own hash still breaks the link from the next row."""
    _fill_audit(store, 4)
    from tollguard.adapters.store.audit import entry_hash

    e = store.list_audit()[1]
    forged = entry_hash(
        seq=e.seq,
        time=e.time,
        actor=e.actor,
        action=e.action,
        subject=e.subject,
        reason="forged",
        evidence=e.evidence,
        prev_hash=e.prev_hash,
    )
    tamper(store, f"UPDATE audit_log SET reason = 'forged', hash = '{forged}' WHERE seq = 2")
    assert store.verify_audit_chain() == (False, 3)


def test_concurrent_appends_keep_one_chain(store: Store) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _fill_audit(store, 10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count("audit_log") == 40
    assert store.verify_audit_chain() == (True, None)


def test_concurrent_opens_migrate_once(empty_url: str) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store.open(empty_url).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = make_engine(empty_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_plain_postgres_urls_use_psycopg() -> None:
    for url in ("postgresql://u:p@127.0.0.1:1/x", "postgres://u:p@127.0.0.1:1/x"):
        engine = make_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()
