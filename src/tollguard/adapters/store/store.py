"""The transactional store: one class over SQLite (default) or PostgreSQL.

Every method runs in its own transaction unless it is given ``conn=`` (a connection inside a
transaction from :meth:`Store.begin`), so callers can group several writes atomically. Every
change to controls, cases and the restricted destination list writes its audit entry in the same
transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy import Row, String, Table, and_, cast, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert

from tollguard.adapters.store import audit as audit_mod
from tollguard.adapters.store import schema as s
from tollguard.adapters.store.audit import AuditEntry, to_json_value
from tollguard.adapters.store.engine import READONLY_OPTION, default_url, make_engine
from tollguard.adapters.store.migrate import upgrade
from tollguard.adapters.store.models import (
    ApiToken,
    Case,
    ContactAttempt,
    Control,
    DormantConsent,
    IngestedFile,
    InputOffset,
    InsertCounts,
    IntelCandidate,
    IntelImportCounts,
    QuarantineEntry,
    RatedCdr,
    RestrictedDestination,
    Snapshot,
    StoredAlert,
    StoredNoticeTemplate,
    StoredNotification,
    WebUser,
)
from tollguard.adapters.store.types import sqlite_utc_text
from tollguard.domain.intel import dearer_band
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

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
DEFAULT_BATCH = 5_000

T = TypeVar("T")

_CDR_INSERT_COLUMNS = (
    "call_id", "subscriber_id", "caller", "callee", "start_time", "answer_time", "end_time",
    "disposition", "source_ip", "billable_seconds", "callee_e164", "country", "number_type",
    "charge_jpy", "file_id", "ingested_at",
)  # fmt: skip
_SQLITE_INSERT_CDR = (
    f"INSERT INTO cdrs ({', '.join(_CDR_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _CDR_INSERT_COLUMNS)}) ON CONFLICT (call_id) DO NOTHING"
)


class StoreError(Exception):
    """A store operation that cannot be done (unknown id, control already lifted, ...)."""


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _control(row: Row[Any]) -> Control:
    return Control(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
        lift_reason=row.lift_reason,
        evidence=row.evidence,
    )


def _case(row: Row[Any]) -> Case:
    return Case(
        id=row.id,
        subscriber_id=row.subscriber_id,
        opened_at=row.opened_at,
        status=row.status,
        score=row.score,
        evidence=row.evidence,
        closed_at=row.closed_at,
    )


def _destination(row: Row[Any]) -> RestrictedDestination:
    return RestrictedDestination(
        id=row.id,
        kind=row.kind,
        value=row.value,
        criteria=row.criteria,
        provenance=row.provenance,
        added_by=row.added_by,
        added_at=row.added_at,
    )


def _consent(row: Row[Any]) -> DormantConsent:
    return DormantConsent(
        subscriber_id=row.subscriber_id,
        state=row.state,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        note=row.note,
    )


def _candidate(row: Row[Any]) -> IntelCandidate:
    return IntelCandidate(
        id=row.id,
        kind=row.kind,
        value=row.value,
        source=row.source,
        country=row.country,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        incidents=row.incidents,
        calls=row.calls,
        cost_band=row.cost_band,
        feed_digest=row.feed_digest,
        imported_at=row.imported_at,
        status=row.status,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
    )


_INTEL_FIGURES = ("country", "first_seen", "last_seen", "incidents", "calls", "cost_band")


def _ingested(row: Row[Any]) -> IngestedFile:
    return IngestedFile(
        id=row.id,
        kind=row.kind,
        path=row.path,
        sha256=row.sha256,
        size=row.size,
        rows_read=row.rows_read,
        rows_accepted=row.rows_accepted,
        rows_quarantined=row.rows_quarantined,
        rows_duplicate=row.rows_duplicate,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _subscriber(row: Row[Any]) -> Subscriber:
    return Subscriber(
        subscriber_id=row.subscriber_id,
        segment=Segment(row.segment),
        service=Service(row.service),
        numbers=tuple(row.numbers),
        email=row.email,
        intl_status=IntlStatus(row.intl_status),
        equipment=row.equipment,
    )


def _rated(row: Row[Any]) -> RatedCdr:
    cdr = CallDetailRecord(
        call_id=row.call_id,
        subscriber_id=row.subscriber_id,
        caller=row.caller,
        callee=row.callee,
        start=row.start_time,
        answer=row.answer_time,
        end=row.end_time,
        disposition=Disposition(row.disposition),
        source_ip=row.source_ip,
    )
    return RatedCdr(cdr, row.callee_e164, row.country, row.number_type, row.charge_jpy)


class Store:
    """tollguard's transactional store. Create it with :meth:`Store.open`."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose database is already migrated (prefer :meth:`Store.open`)."""
        if engine.dialect.name not in SUPPORTED_DIALECTS:
            raise StoreError(
                f"unsupported database {engine.dialect.name!r} (use SQLite or PostgreSQL)"
            )
        self._engine = engine

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, url: str | None = None, path: Path | None = None, *, migrate: bool = True
    ) -> Self:
        """Open the store at ``url`` (default ``sqlite:///<path or ./tollguard.sqlite>``).

        Migrates the database to the newest schema unless ``migrate=False``.
        """
        engine = make_engine(url if url is not None else default_url(path))
        try:
            store = cls(engine)
            if migrate:
                upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success, rolled back on error."""
        with self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self._engine.begin() as new:
                yield new

    @contextmanager
    def _read(self, conn: Connection | None = None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self._engine.connect() as new:
            new = new.execution_options(**{READONLY_OPTION: True})
            with new.begin():
                yield new

    def _insert(self, table: Table) -> Insert:
        if self.dialect == "postgresql":
            return pg.insert(table)
        return sqlite.insert(table)

    def count(self, table: str) -> int:
        """Number of rows in one of the store's tables (by name)."""
        t = s.metadata.tables[table]
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t)).scalar_one())

    # -- subscribers ----------------------------------------------------------------------------

    def upsert_subscribers(
        self, subscribers: Iterable[Subscriber], *, at: datetime, conn: Connection | None = None
    ) -> int:
        """Insert or update subscribers by ``subscriber_id``; returns how many were written."""
        written = 0
        with self._tx(conn) as c:
            for batch in _batches(subscribers, DEFAULT_BATCH):
                rows = {
                    sub.subscriber_id: {
                        "subscriber_id": sub.subscriber_id,
                        "segment": sub.segment.value,
                        "service": sub.service.value,
                        "numbers": list(sub.numbers),
                        "email": sub.email,
                        "intl_status": sub.intl_status.value,
                        "equipment": sub.equipment,
                        "updated_at": at,
                    }
                    for sub in batch
                }
                stmt: Any = self._insert(s.subscribers)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[s.subscribers.c.subscriber_id],
                    set_={
                        name: stmt.excluded[name]
                        for name in (
                            "segment",
                            "service",
                            "numbers",
                            "email",
                            "intl_status",
                            "equipment",
                            "updated_at",
                        )
                    },
                )
                c.execute(stmt, list(rows.values()))
                written += len(rows)
        return written

    def get_subscriber(self, subscriber_id: str) -> Subscriber | None:
        """One subscriber, or ``None``."""
        with self._read() as conn:
            row = conn.execute(
                select(s.subscribers).where(s.subscribers.c.subscriber_id == subscriber_id)
            ).first()
        return None if row is None else _subscriber(row)

    def list_subscribers(self) -> list[Subscriber]:
        """Every subscriber, by id."""
        with self._read() as conn:
            rows = conn.execute(select(s.subscribers).order_by(s.subscribers.c.subscriber_id))
            return [_subscriber(r) for r in rows]

    # -- CDRs and SIP events --------------------------------------------------------------------

    def insert_cdrs(
        self,
        rows: Iterable[RatedCdr],
        *,
        at: datetime,
        file_id: int | None = None,
        conn: Connection | None = None,
    ) -> InsertCounts:
        """Insert rated CDRs; a ``call_id`` already stored (or repeated in ``rows``) is skipped.

        Uses ``INSERT ... ON CONFLICT DO NOTHING RETURNING call_id`` in executemany batches, so
        the counts are exact even with concurrent writers.
        """
        if self.dialect == "sqlite":
            return self._insert_cdrs_sqlite(rows, at=at, file_id=file_id, conn=conn)
        new = dup = 0
        stmt: Any = self._insert(s.cdrs)
        stmt = stmt.on_conflict_do_nothing(index_elements=[s.cdrs.c.call_id]).returning(
            s.cdrs.c.call_id
        )
        with self._tx(conn) as c:
            for batch in _batches(rows, DEFAULT_BATCH):
                params = [
                    {
                        "call_id": r.cdr.call_id,
                        "subscriber_id": r.cdr.subscriber_id,
                        "caller": r.cdr.caller,
                        "callee": r.cdr.callee,
                        "start_time": r.cdr.start,
                        "answer_time": r.cdr.answer,
                        "end_time": r.cdr.end,
                        "disposition": r.cdr.disposition.value,
                        "source_ip": r.cdr.source_ip,
                        "billable_seconds": r.cdr.billable_seconds,
                        "callee_e164": r.callee_e164,
                        "country": r.country,
                        "number_type": r.number_type,
                        "charge_jpy": float(r.charge_jpy),
                        "file_id": file_id,
                        "ingested_at": at,
                    }
                    for r in batch
                ]
                inserted = len(c.execute(stmt, params).all())
                new += inserted
                dup += len(params) - inserted
        return InsertCounts(new=new, duplicate=dup)

    def _insert_cdrs_sqlite(
        self,
        rows: Iterable[RatedCdr],
        *,
        at: datetime,
        file_id: int | None,
        conn: Connection | None,
    ) -> InsertCounts:
        """SQLite fast path: one prepared statement, ``executemany`` over tuples.

        SQLite has a single writer (``BEGIN IMMEDIATE``), and its ``executemany`` row count sums
        the rows each execution inserted, so ``ON CONFLICT DO NOTHING`` gives exact counts.
        """
        text = sqlite_utc_text
        ingested = text(at)
        new = dup = 0
        with self._tx(conn) as c:
            for batch in _batches(rows, DEFAULT_BATCH):
                params = [
                    (
                        r.cdr.call_id,
                        r.cdr.subscriber_id,
                        r.cdr.caller,
                        r.cdr.callee,
                        text(r.cdr.start),
                        None if r.cdr.answer is None else text(r.cdr.answer),
                        text(r.cdr.end),
                        r.cdr.disposition.value,
                        r.cdr.source_ip,
                        r.cdr.billable_seconds,
                        r.callee_e164,
                        r.country,
                        r.number_type,
                        float(r.charge_jpy),
                        file_id,
                        ingested,
                    )
                    for r in batch
                ]
                inserted = c.exec_driver_sql(_SQLITE_INSERT_CDR, params).rowcount
                new += inserted
                dup += len(params) - inserted
        return InsertCounts(new=new, duplicate=dup)

    def get_cdr(self, call_id: str) -> RatedCdr | None:
        """One stored CDR by call id, or ``None``."""
        with self._read() as conn:
            row = conn.execute(select(s.cdrs).where(s.cdrs.c.call_id == call_id)).first()
        return None if row is None else _rated(row)

    def list_cdrs(
        self,
        *,
        subscriber_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RatedCdr]:
        """Stored CDRs by start time (optionally one subscriber's, in ``[since, until)``)."""
        q = select(s.cdrs).order_by(s.cdrs.c.start_time, s.cdrs.c.call_id)
        if subscriber_id is not None:
            q = q.where(s.cdrs.c.subscriber_id == subscriber_id)
        if since is not None:
            q = q.where(s.cdrs.c.start_time >= since)
        if until is not None:
            q = q.where(s.cdrs.c.start_time < until)
        with self._read() as conn:
            return [_rated(r) for r in conn.execute(q)]

    def insert_sip_events(
        self,
        events: Iterable[SipSecurityEvent],
        *,
        file_id: int | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Append SIP security events; returns how many were written."""
        written = 0
        with self._tx(conn) as c:
            for batch in _batches(events, DEFAULT_BATCH):
                c.execute(
                    s.sip_events.insert(),
                    [
                        {
                            "time": e.time,
                            "source_ip": e.source_ip,
                            "username": e.username,
                            "event": e.event.value,
                            "user_agent": e.user_agent,
                            "file_id": file_id,
                        }
                        for e in batch
                    ],
                )
                written += len(batch)
        return written

    def list_sip_events(self, *, source_ip: str | None = None) -> list[SipSecurityEvent]:
        """Stored SIP events by time (optionally from one source IP)."""
        q = select(s.sip_events).order_by(s.sip_events.c.time, s.sip_events.c.id)
        if source_ip is not None:
            q = q.where(s.sip_events.c.source_ip == source_ip)
        with self._read() as conn:
            return [
                SipSecurityEvent(
                    r.time, r.source_ip, r.username, SipEventKind(r.event), r.user_agent
                )
                for r in conn.execute(q)
            ]

    # -- quarantine and ingested files ----------------------------------------------------------

    def add_quarantine(
        self,
        rows: Iterable[QuarantinedRow],
        *,
        at: datetime,
        file_id: int | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Store rows a reader rejected; returns how many were written."""
        written = 0
        with self._tx(conn) as c:
            for batch in _batches(rows, DEFAULT_BATCH):
                c.execute(
                    s.quarantine.insert(),
                    [
                        {
                            "source_file": q.source,
                            "line": q.line,
                            "field": q.field,
                            "reason": q.reason,
                            "raw": q.raw,
                            "ingested_at": at,
                            "file_id": file_id,
                        }
                        for q in batch
                    ],
                )
                written += len(batch)
        return written

    def list_quarantine(self, *, source_file: str | None = None) -> list[QuarantineEntry]:
        """Quarantined rows by file and line."""
        q = select(s.quarantine).order_by(
            s.quarantine.c.source_file, s.quarantine.c.line, s.quarantine.c.id
        )
        if source_file is not None:
            q = q.where(s.quarantine.c.source_file == source_file)
        with self._read() as conn:
            return [
                QuarantineEntry(
                    r.id, r.source_file, r.line, r.field, r.reason, r.raw, r.ingested_at, r.file_id
                )
                for r in conn.execute(q)
            ]

    def find_ingested_file(self, kind: str, sha256: str) -> IngestedFile | None:
        """The record of a file of this kind and content, finished or not, or ``None``."""
        with self._read() as conn:
            row = conn.execute(
                select(s.ingested_files).where(
                    s.ingested_files.c.kind == kind, s.ingested_files.c.sha256 == sha256
                )
            ).first()
        return None if row is None else _ingested(row)

    def list_ingested_files(self) -> list[IngestedFile]:
        """Every ingested-file record, oldest first."""
        with self._read() as conn:
            rows = conn.execute(select(s.ingested_files).order_by(s.ingested_files.c.id))
            return [_ingested(r) for r in rows]

    def start_ingested_file(
        self, kind: str, path: str, sha256: str, size: int, *, at: datetime
    ) -> IngestedFile:
        """Record that ingesting a file starts, and return the record.

        If an earlier ingest of the same content was interrupted, the rows it left (CDRs, SIP
        events, quarantine) are removed first, so the new run starts clean and counts exactly.
        Raises :class:`StoreError` if this content was already ingested completely.
        """
        with self.begin() as c:
            t = s.ingested_files
            row = c.execute(select(t).where(t.c.kind == kind, t.c.sha256 == sha256)).first()
            if row is not None and row.finished_at is not None:
                raise StoreError(f"{kind} file with sha256 {sha256} was already ingested")
            if row is not None:
                for table in (s.cdrs, s.sip_events, s.quarantine):
                    c.execute(delete(table).where(table.c.file_id == row.id))
                c.execute(
                    update(t)
                    .where(t.c.id == row.id)
                    .values(path=path, size=size, started_at=at, finished_at=None)
                )
                file_id = int(row.id)
            else:
                file_id = c.execute(
                    t.insert().returning(t.c.id),
                    {
                        "kind": kind,
                        "path": path,
                        "sha256": sha256,
                        "size": size,
                        "rows_read": 0,
                        "rows_accepted": 0,
                        "rows_quarantined": 0,
                        "rows_duplicate": 0,
                        "started_at": at,
                        "finished_at": None,
                    },
                ).scalar_one()
            final = c.execute(select(t).where(t.c.id == file_id)).one()
        return _ingested(final)

    def finish_ingested_file(
        self,
        file_id: int,
        *,
        rows_read: int,
        rows_accepted: int,
        rows_quarantined: int,
        rows_duplicate: int,
        at: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Record that a file was ingested completely, with its row counts."""
        with self._tx(conn) as c:
            c.execute(
                update(s.ingested_files)
                .where(s.ingested_files.c.id == file_id)
                .values(
                    rows_read=rows_read,
                    rows_accepted=rows_accepted,
                    rows_quarantined=rows_quarantined,
                    rows_duplicate=rows_duplicate,
                    finished_at=at,
                )
            )

    # -- audit ----------------------------------------------------------------------------------

    def append_audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        reason: str,
        at: datetime,
        evidence: Mapping[str, object] | None = None,
        conn: Connection | None = None,
    ) -> AuditEntry:
        """Append an entry to the hash-chained audit log."""
        with self._tx(conn) as c:
            return audit_mod.append_audit(
                c,
                actor=actor,
                action=action,
                subject=subject,
                reason=reason,
                at=at,
                evidence=evidence,
            )

    def verify_audit_chain(self) -> tuple[bool, int | None]:
        """``(True, None)`` if the audit chain is intact, else ``(False, first_bad_seq)``."""
        with self._read() as conn:
            return audit_mod.verify_audit_chain(conn)

    def list_audit_tail(self) -> AuditEntry | None:
        """The newest audit entry, or ``None`` when the log is empty."""
        q = select(s.audit_log).order_by(s.audit_log.c.seq.desc()).limit(1)
        with self._read() as conn:
            row = conn.execute(q).first()
        return None if row is None else audit_mod.row_to_entry(row)

    def list_audit(
        self, *, subject: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[AuditEntry]:
        """Audit entries in order (optionally about one subject, after a sequence number)."""
        q = select(s.audit_log).where(s.audit_log.c.seq > after_seq).order_by(s.audit_log.c.seq)
        if subject is not None:
            q = q.where(s.audit_log.c.subject == subject)
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            return [audit_mod.row_to_entry(r) for r in conn.execute(q)]

    # -- controls -------------------------------------------------------------------------------

    def create_control(
        self,
        kind: str,
        subject: str,
        *,
        reason: str,
        created_by: str,
        at: datetime,
        expires_at: datetime | None = None,
        evidence: Mapping[str, object] | None = None,
        conn: Connection | None = None,
    ) -> Control:
        """Put a control in force (audited as ``control.create``)."""
        if kind not in s.CONTROL_KINDS:
            raise StoreError(f"unknown control kind {kind!r} (one of {', '.join(s.CONTROL_KINDS)})")
        if expires_at is not None and expires_at <= at:
            raise StoreError("a control must expire after it is created")
        data = to_json_value(dict(evidence or {}))
        with self._tx(conn) as c:
            row = c.execute(
                s.controls.insert().returning(*s.controls.c),
                {
                    "kind": kind,
                    "subject": subject,
                    "reason": reason,
                    "created_by": created_by,
                    "created_at": at,
                    "expires_at": expires_at,
                    "evidence": data,
                },
            ).one()
            control = _control(row)
            audit_mod.append_audit(
                c,
                actor=created_by,
                action="control.create",
                subject=f"{kind}:{subject}",
                reason=reason,
                at=at,
                evidence={"control_id": control.id, "expires_at": expires_at, "evidence": data},
            )
        return control

    def controls_version(self) -> tuple[int, datetime | None, int]:
        """Changes to controls, cheaply: (newest id, newest lift time, number lifted). Several
        service processes poll it to learn of each other's control changes."""
        c = s.controls.c
        q = select(func.coalesce(func.max(c.id), 0), func.max(c.lifted_at), func.count(c.lifted_at))
        with self._read() as conn:
            newest, lifted_at, lifted = conn.execute(q).one()
        return int(newest), lifted_at, int(lifted)

    def get_control(self, control_id: int) -> Control | None:
        """One control by id, or ``None``."""
        with self._read() as conn:
            row = conn.execute(select(s.controls).where(s.controls.c.id == control_id)).first()
        return None if row is None else _control(row)

    def active_controls(
        self,
        at: datetime,
        *,
        kind: str | None = None,
        subject: str | None = None,
        conn: Connection | None = None,
    ) -> list[Control]:
        """Controls in force at ``at``: created, not expired and not lifted by then."""
        c = s.controls.c
        q = (
            select(s.controls)
            .where(
                c.created_at <= at,
                or_(c.expires_at.is_(None), c.expires_at > at),
                or_(c.lifted_at.is_(None), c.lifted_at > at),
            )
            .order_by(c.created_at, c.id)
        )
        if kind is not None:
            q = q.where(c.kind == kind)
        if subject is not None:
            q = q.where(c.subject == subject)
        with self._read(conn) as rc:
            return [_control(r) for r in rc.execute(q)]

    def list_controls(
        self, *, kind: str | None = None, subject: str | None = None
    ) -> list[Control]:
        """Every control ever created (optionally of one kind/subject), oldest first."""
        q = select(s.controls).order_by(s.controls.c.created_at, s.controls.c.id)
        if kind is not None:
            q = q.where(s.controls.c.kind == kind)
        if subject is not None:
            q = q.where(s.controls.c.subject == subject)
        with self._read() as conn:
            return [_control(r) for r in conn.execute(q)]

    def lift_control(
        self,
        control_id: int,
        *,
        by: str,
        reason: str,
        at: datetime,
        conn: Connection | None = None,
    ) -> Control:
        """Lift a control before it expires (audited as ``control.lift``)."""
        with self._tx(conn) as c:
            t = s.controls
            row = c.execute(
                update(t)
                .where(t.c.id == control_id, t.c.lifted_at.is_(None))
                .values(lifted_at=at, lifted_by=by, lift_reason=reason)
                .returning(*t.c)
            ).first()
            if row is None:
                exists = c.execute(select(t.c.id).where(t.c.id == control_id)).first()
                raise StoreError(
                    f"control {control_id} was already lifted"
                    if exists
                    else f"no control {control_id}"
                )
            control = _control(row)
            audit_mod.append_audit(
                c,
                actor=by,
                action="control.lift",
                subject=f"{control.kind}:{control.subject}",
                reason=reason,
                at=at,
                evidence={"control_id": control.id},
            )
        return control

    # -- cases and contact attempts -------------------------------------------------------------

    def open_case(
        self,
        subscriber_id: str,
        *,
        at: datetime,
        score: float,
        evidence: Mapping[str, object] | None = None,
        status: str = "open",
        by: str = "tollguard",
        reason: str = "anomaly",
        conn: Connection | None = None,
    ) -> Case:
        """Open a case on a subscriber (audited as ``case.open``)."""
        data = to_json_value(dict(evidence or {}))
        with self._tx(conn) as c:
            row = c.execute(
                s.cases.insert().returning(*s.cases.c),
                {
                    "subscriber_id": subscriber_id,
                    "opened_at": at,
                    "status": status,
                    "score": score,
                    "evidence": data,
                },
            ).one()
            case = _case(row)
            audit_mod.append_audit(
                c,
                actor=by,
                action="case.open",
                subject=f"subscriber:{subscriber_id}",
                reason=reason,
                at=at,
                evidence={"case_id": case.id, "score": score, "evidence": data},
            )
        return case

    def update_case(
        self,
        case_id: int,
        *,
        status: str,
        at: datetime,
        by: str,
        reason: str,
        score: float | None = None,
        evidence: Mapping[str, object] | None = None,
        close: bool = False,
        conn: Connection | None = None,
    ) -> Case:
        """Change a case's status (and score/evidence); ``close=True`` closes it at ``at``.

        Audited as ``case.update`` or ``case.close``.
        """
        values: dict[str, Any] = {"status": status}
        if score is not None:
            values["score"] = score
        if evidence is not None:
            values["evidence"] = to_json_value(dict(evidence))
        if close:
            values["closed_at"] = at
        with self._tx(conn) as c:
            row = c.execute(
                update(s.cases)
                .where(s.cases.c.id == case_id, s.cases.c.closed_at.is_(None))
                .values(**values)
                .returning(*s.cases.c)
            ).first()
            if row is None:
                raise StoreError(f"no open case {case_id}")
            case = _case(row)
            audit_mod.append_audit(
                c,
                actor=by,
                action="case.close" if close else "case.update",
                subject=f"subscriber:{case.subscriber_id}",
                reason=reason,
                at=at,
                evidence={"case_id": case_id, "status": status, "score": case.score},
            )
        return case

    def get_case(self, case_id: int) -> Case | None:
        """One case by id, or ``None``."""
        with self._read() as conn:
            row = conn.execute(select(s.cases).where(s.cases.c.id == case_id)).first()
        return None if row is None else _case(row)

    def list_cases(
        self, *, subscriber_id: str | None = None, open_only: bool = False
    ) -> list[Case]:
        """Cases, oldest first (optionally one subscriber's, or only open ones)."""
        q = select(s.cases).order_by(s.cases.c.opened_at, s.cases.c.id)
        if subscriber_id is not None:
            q = q.where(s.cases.c.subscriber_id == subscriber_id)
        if open_only:
            q = q.where(s.cases.c.closed_at.is_(None))
        with self._read() as conn:
            return [_case(r) for r in conn.execute(q)]

    def add_contact_attempt(
        self,
        case_id: int,
        *,
        channel: str,
        at: datetime,
        outcome: str,
        by: str,
        note: str = "",
        conn: Connection | None = None,
    ) -> ContactAttempt:
        """Record an attempt to reach the customer of a case (audited as ``case.contact``)."""
        with self._tx(conn) as c:
            sub = c.execute(
                select(s.cases.c.subscriber_id).where(s.cases.c.id == case_id)
            ).scalar_one_or_none()
            if sub is None:
                raise StoreError(f"no case {case_id}")
            row = c.execute(
                s.contact_attempts.insert().returning(*s.contact_attempts.c),
                {
                    "case_id": case_id,
                    "channel": channel,
                    "time": at,
                    "outcome": outcome,
                    "note": note,
                    "made_by": by,
                },
            ).one()
            audit_mod.append_audit(
                c,
                actor=by,
                action="case.contact",
                subject=f"subscriber:{sub}",
                reason=outcome,
                at=at,
                evidence={"case_id": case_id, "channel": channel, "note": note},
            )
        return ContactAttempt(
            row.id, row.case_id, row.channel, row.time, row.outcome, row.note, row.made_by
        )

    def list_contact_attempts(self, case_id: int) -> list[ContactAttempt]:
        """A case's contact attempts in time order."""
        t = s.contact_attempts
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.case_id == case_id).order_by(t.c.time, t.c.id))
            return [
                ContactAttempt(r.id, r.case_id, r.channel, r.time, r.outcome, r.note, r.made_by)
                for r in rows
            ]

    # -- restricted destination list ------------------------------------------------------------

    def put_restricted_destination(
        self,
        kind: str,
        value: str,
        *,
        criteria: Mapping[str, object],
        provenance: str,
        added_by: str,
        at: datetime,
        conn: Connection | None = None,
    ) -> RestrictedDestination:
        """Add a country or number range to the list, or update its criteria and provenance.

        ``criteria`` records why it qualifies, e.g. ``{"no_government_traffic": true,
        "no_life_critical_traffic": true, "normal_traffic": {"minutes": 12, "period": "P30D"}}``.
        Audited as ``destination_list.add`` / ``destination_list.update``.
        """
        if kind not in s.DESTINATION_KINDS:
            raise StoreError(f"unknown destination kind {kind!r} (country or range)")
        data = to_json_value(dict(criteria))
        t = s.restricted_destinations
        with self._tx(conn) as c:
            existing = c.execute(select(t.c.id).where(t.c.kind == kind, t.c.value == value)).first()
            values = {
                "criteria": data,
                "provenance": provenance,
                "added_by": added_by,
                "added_at": at,
            }
            if existing is None:
                row = c.execute(
                    t.insert().returning(*t.c), {"kind": kind, "value": value, **values}
                ).one()
            else:
                row = c.execute(
                    update(t).where(t.c.id == existing.id).values(**values).returning(*t.c)
                ).one()
            audit_mod.append_audit(
                c,
                actor=added_by,
                action="destination_list.add" if existing is None else "destination_list.update",
                subject=f"{kind}:{value}",
                reason=provenance,
                at=at,
                evidence={"criteria": data},
            )
        return _destination(row)

    def remove_restricted_destination(
        self,
        kind: str,
        value: str,
        *,
        by: str,
        reason: str,
        at: datetime,
        conn: Connection | None = None,
    ) -> bool:
        """Remove an entry (audited as ``destination_list.remove``); ``False`` if it was absent."""
        t = s.restricted_destinations
        with self._tx(conn) as c:
            gone = c.execute(
                delete(t).where(t.c.kind == kind, t.c.value == value).returning(t.c.id)
            ).first()
            if gone is None:
                return False
            audit_mod.append_audit(
                c,
                actor=by,
                action="destination_list.remove",
                subject=f"{kind}:{value}",
                reason=reason,
                at=at,
            )
        return True

    def list_restricted_destinations(
        self, *, kind: str | None = None
    ) -> list[RestrictedDestination]:
        """The restricted destination list, by kind and value."""
        t = s.restricted_destinations
        q = select(t).order_by(t.c.kind, t.c.value)
        if kind is not None:
            q = q.where(t.c.kind == kind)
        with self._read() as conn:
            return [_destination(r) for r in conn.execute(q)]

    # -- dormant customers' consent ----------------------------------------------------------------

    def get_consent(self, subscriber_id: str) -> DormantConsent | None:
        """A customer's consent record, or ``None`` when never asked."""
        t = s.dormant_consents
        with self._read() as conn:
            row = conn.execute(select(t).where(t.c.subscriber_id == subscriber_id)).first()
        return None if row is None else _consent(row)

    def list_consents(self, *, state: str | None = None) -> list[DormantConsent]:
        """Consent records, by subscriber."""
        t = s.dormant_consents
        q = select(t).order_by(t.c.subscriber_id)
        if state is not None:
            q = q.where(t.c.state == state)
        with self._read() as conn:
            return [_consent(r) for r in conn.execute(q)]

    def set_consent(
        self,
        subscriber_id: str,
        state: str,
        *,
        by: str,
        reason: str,
        at: datetime,
        evidence: Mapping[str, object] | None = None,
        conn: Connection | None = None,
    ) -> DormantConsent:
        """Record a consent state (audited as ``consent.<state>`` in the same transaction).

        The workflow's rules (which state may follow which) belong to the caller
        (:mod:`tollguard.domain.dormant`); the store checks only that the state is known.
        """
        if state not in s.CONSENT_STATES:
            raise StoreError(f"unknown consent state {state!r} ({', '.join(s.CONSENT_STATES)})")
        t = s.dormant_consents
        values = {"state": state, "updated_at": at, "updated_by": by, "note": reason}
        with self._tx(conn) as c:
            existing = c.execute(
                select(t.c.subscriber_id).where(t.c.subscriber_id == subscriber_id)
            ).first()
            if existing is None:
                row = c.execute(
                    t.insert().returning(*t.c), {"subscriber_id": subscriber_id, **values}
                ).one()
            else:
                row = c.execute(
                    update(t)
                    .where(t.c.subscriber_id == subscriber_id)
                    .values(**values)
                    .returning(*t.c)
                ).one()
            audit_mod.append_audit(
                c,
                actor=by,
                action=f"consent.{state}",
                subject=f"subscriber:{subscriber_id}",
                reason=reason,
                at=at,
                evidence=to_json_value(dict(evidence or {})),
            )
        return _consent(row)

    # -- intelligence shared by other carriers --------------------------------------------------

    def import_intel_candidates(
        self,
        entries: Sequence[Mapping[str, Any]],
        *,
        source: str,
        feed_digest: str,
        at: datetime,
        by: str,
        evidence: Mapping[str, object] | None = None,
        conn: Connection | None = None,
    ) -> tuple[IntelImportCounts, list[IntelCandidate]]:
        """Record another carrier's entries as candidates (audited as ``intel.import``).

        Each entry is a mapping with ``kind``, ``value``, ``country``, ``first_seen``,
        ``last_seen`` (aware datetimes), ``incidents``, ``calls`` and ``cost_band``. A candidate
        is one ``kind:value`` from one ``source``; a later feed widens its period and keeps the
        larger counts and the dearer band, so importing the same feed twice changes nothing. The
        review status is never changed here. Returns the counts and the new or updated rows.
        """
        t = s.intel_candidates
        new = updated = unchanged = 0
        changed: list[IntelCandidate] = []
        with self._tx(conn) as c:
            existing = {
                (r.kind, r.value): r for r in c.execute(select(t).where(t.c.source == source))
            }
            for e in entries:
                old = existing.get((e["kind"], e["value"]))
                if old is None:
                    row = c.execute(
                        t.insert().returning(*t.c),
                        {
                            "kind": e["kind"],
                            "value": e["value"],
                            "source": source,
                            **{k: e[k] for k in _INTEL_FIGURES},
                            "feed_digest": feed_digest,
                            "imported_at": at,
                            "status": "candidate",
                        },
                    ).one()
                    existing[(row.kind, row.value)] = row
                    changed.append(_candidate(row))
                    new += 1
                    continue
                figures = {
                    "country": old.country or e["country"],
                    "first_seen": min(old.first_seen, e["first_seen"]),
                    "last_seen": max(old.last_seen, e["last_seen"]),
                    "incidents": max(old.incidents, e["incidents"]),
                    "calls": max(old.calls, e["calls"]),
                    "cost_band": dearer_band(old.cost_band, e["cost_band"]),
                }
                if all(getattr(old, k) == v for k, v in figures.items()):
                    unchanged += 1
                    continue
                row = c.execute(
                    update(t)
                    .where(t.c.id == old.id)
                    .values(**figures, feed_digest=feed_digest, imported_at=at)
                    .returning(*t.c)
                ).one()
                existing[(row.kind, row.value)] = row
                changed.append(_candidate(row))
                updated += 1
            counts = IntelImportCounts(new, updated, unchanged)
            audit_mod.append_audit(
                c,
                actor=by,
                action="intel.import",
                subject=f"feed:{source}",
                reason=f"{new} new, {updated} updated, {unchanged} unchanged candidates",
                at=at,
                evidence={
                    "feed_digest": feed_digest,
                    "new": new,
                    "updated": updated,
                    "unchanged": unchanged,
                    **to_json_value(dict(evidence or {})),
                },
            )
        return counts, changed

    def list_intel_candidates(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        value: str | None = None,
        source: str | None = None,
    ) -> list[IntelCandidate]:
        """Candidates by kind, value and source (optionally filtered)."""
        t = s.intel_candidates
        q = select(t).order_by(t.c.kind, t.c.value, t.c.source)
        for col, want in ((t.c.status, status), (t.c.kind, kind), (t.c.value, value)):
            if want is not None:
                q = q.where(col == want)
        if source is not None:
            q = q.where(t.c.source == source)
        with self._read() as conn:
            return [_candidate(r) for r in conn.execute(q)]

    def get_intel_candidate(
        self, candidate_id: int, *, conn: Connection | None = None
    ) -> IntelCandidate | None:
        """One candidate by id, or ``None``."""
        t = s.intel_candidates
        with self._read(conn) as c:
            row = c.execute(select(t).where(t.c.id == candidate_id)).first()
        return None if row is None else _candidate(row)

    def review_intel_candidate(
        self,
        candidate_id: int,
        status: str,
        *,
        by: str,
        reason: str,
        at: datetime,
        conn: Connection | None = None,
    ) -> IntelCandidate:
        """Accept or reject a candidate still under review (audited as ``intel.<status>``).

        What acceptance puts in force (a list entry, a block) is the caller's to write in the
        same transaction.
        """
        if status not in ("accepted", "rejected"):
            raise StoreError(f"a review accepts or rejects, not {status!r}")
        t = s.intel_candidates
        with self._tx(conn) as c:
            row = c.execute(
                update(t)
                .where(t.c.id == candidate_id, t.c.status == "candidate")
                .values(status=status, reviewed_by=by, reviewed_at=at)
                .returning(*t.c)
            ).first()
            if row is None:
                exists = c.execute(select(t.c.status).where(t.c.id == candidate_id)).first()
                raise StoreError(
                    f"candidate {candidate_id} was already {exists.status}"
                    if exists
                    else f"no candidate {candidate_id}"
                )
            cand = _candidate(row)
            audit_mod.append_audit(
                c,
                actor=by,
                action=f"intel.{'accept' if status == 'accepted' else 'reject'}",
                subject=cand.key,
                reason=reason,
                at=at,
                evidence={
                    "candidate_id": cand.id,
                    "source": cand.source,
                    "feed_digest": cand.feed_digest,
                },
            )
        return cand

    # -- snapshots and input offsets ------------------------------------------------------------

    def save_snapshot(
        self,
        name: str,
        *,
        at: datetime,
        offsets: Mapping[str, object],
        state: bytes,
        keep: int | None = None,
        conn: Connection | None = None,
    ) -> Snapshot:
        """Save an engine state; with ``keep=n``, only the newest ``n`` of ``name`` are kept."""
        t = s.engine_snapshots
        data = to_json_value(dict(offsets))
        with self._tx(conn) as c:
            new_id = c.execute(
                t.insert().returning(t.c.id),
                {"name": name, "taken_at": at, "offsets": data, "state": bytes(state)},
            ).scalar_one()
            if keep is not None:
                newest = (
                    select(t.c.id)
                    .where(t.c.name == name)
                    .order_by(t.c.taken_at.desc(), t.c.id.desc())
                    .limit(max(keep, 1))
                )
                c.execute(delete(t).where(and_(t.c.name == name, t.c.id.not_in(newest))))
        return Snapshot(int(new_id), name, at, data, bytes(state))

    def load_snapshot(self, name: str) -> Snapshot | None:
        """The newest snapshot saved under ``name``, or ``None``."""
        t = s.engine_snapshots
        with self._read() as conn:
            row = conn.execute(
                select(t).where(t.c.name == name).order_by(t.c.taken_at.desc(), t.c.id.desc())
            ).first()
        if row is None:
            return None
        return Snapshot(row.id, row.name, row.taken_at, row.offsets, bytes(row.state))

    def set_input_offset(
        self,
        source: str,
        position: int,
        *,
        at: datetime,
        detail: Mapping[str, object] | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Record how far ``source`` has been consumed."""
        values = {
            "position": position,
            "detail": to_json_value(dict(detail or {})),
            "updated_at": at,
        }
        stmt: Any = self._insert(s.input_offsets).values(source=source, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[s.input_offsets.c.source], set_=values)
        with self._tx(conn) as c:
            c.execute(stmt)

    def get_input_offset(self, source: str) -> InputOffset | None:
        """How far ``source`` has been consumed, or ``None`` if never recorded."""
        t = s.input_offsets
        with self._read() as conn:
            row = conn.execute(select(t).where(t.c.source == source)).first()
        return (
            None
            if row is None
            else InputOffset(row.source, row.position, row.detail, row.updated_at)
        )

    # -- API tokens -----------------------------------------------------------------------------

    def create_token(
        self, name: str, role: str, *, token_hash: str, by: str, at: datetime
    ) -> ApiToken:
        """Record a new API token by its SHA-256 (audited as ``token.create``)."""
        if role not in s.TOKEN_ROLES:
            raise StoreError(f"unknown role {role!r} (one of {', '.join(s.TOKEN_ROLES)})")
        with self._tx(None) as c:
            row = c.execute(
                s.api_tokens.insert().returning(*s.api_tokens.c),
                {
                    "name": name,
                    "role": role,
                    "token_hash": token_hash,
                    "created_by": by,
                    "created_at": at,
                },
            ).one()
            audit_mod.append_audit(
                c,
                actor=by,
                action="token.create",
                subject=f"token:{row.id}",
                reason=f"API token {name!r} with role {role}",
                at=at,
                evidence={"token_id": row.id, "role": role, "name": name},
            )
        return _token(row)

    def token_roles(self) -> dict[str, tuple[int, str, str]]:
        """Tokens not revoked: SHA-256 -> (id, name, role)."""
        t = s.api_tokens
        with self._read() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.name, t.c.role, t.c.token_hash).where(t.c.revoked_at.is_(None))
            )
            return {r.token_hash: (r.id, r.name, r.role) for r in rows}

    def list_tokens(self) -> list[ApiToken]:
        """Every token ever created (revoked ones included), oldest first."""
        with self._read() as conn:
            return [_token(r) for r in conn.execute(select(s.api_tokens).order_by("id"))]

    def revoke_token(self, token_id: int, *, by: str, reason: str, at: datetime) -> ApiToken:
        """Revoke a token (audited as ``token.revoke``)."""
        t = s.api_tokens
        with self._tx(None) as c:
            row = c.execute(
                update(t)
                .where(t.c.id == token_id, t.c.revoked_at.is_(None))
                .values(revoked_at=at)
                .returning(*t.c)
            ).first()
            if row is None:
                raise StoreError(f"no token {token_id} in force")
            audit_mod.append_audit(
                c,
                actor=by,
                action="token.revoke",
                subject=f"token:{token_id}",
                reason=reason,
                at=at,
                evidence={"token_id": token_id, "name": row.name, "role": row.role},
            )
        return _token(row)

    # -- alerts ---------------------------------------------------------------------------------

    def insert_alert(
        self,
        *,
        time: datetime,
        detector: str,
        severity: str,
        subscriber_id: str | None,
        evidence: Mapping[str, object],
        conn: Connection | None = None,
    ) -> int:
        """Keep a detector's finding; returns its id."""
        with self._tx(conn) as c:
            return int(
                c.execute(
                    s.alerts.insert().returning(s.alerts.c.id),
                    {
                        "time": time,
                        "detector": detector,
                        "severity": severity,
                        "subscriber_id": subscriber_id,
                        "evidence": to_json_value(dict(evidence)),
                    },
                ).scalar_one()
            )

    def list_alerts(
        self, *, subscriber_id: str | None = None, limit: int = 100
    ) -> list[StoredAlert]:
        """Alerts, newest first."""
        t = s.alerts
        q = select(t).order_by(t.c.time.desc(), t.c.id.desc()).limit(limit)
        if subscriber_id is not None:
            q = q.where(t.c.subscriber_id == subscriber_id)
        with self._read() as conn:
            return [
                StoredAlert(r.id, r.time, r.detector, r.severity, r.subscriber_id, r.evidence)
                for r in conn.execute(q)
            ]

    # -- notifications --------------------------------------------------------------------------

    def add_notification(
        self,
        *,
        kind: str,
        channel: str,
        recipient: str,
        subject: str,
        body: str,
        subscriber_id: str | None,
        reference: str,
        at: datetime,
    ) -> StoredNotification:
        """Record a notice to send (status ``pending``)."""
        with self._tx(None) as c:
            row = c.execute(
                s.notifications.insert().returning(*s.notifications.c),
                {
                    "kind": kind,
                    "channel": channel,
                    "recipient": recipient,
                    "subject": subject,
                    "body": body,
                    "subscriber_id": subscriber_id,
                    "reference": reference,
                    "created_at": at,
                    "status": "pending",
                    "attempts": 0,
                },
            ).one()
        return _notification(row)

    def finish_notification(
        self,
        notification_id: int,
        *,
        delivered: bool,
        attempts: int,
        last_error: str | None,
        at: datetime,
    ) -> StoredNotification:
        """Record a delivery's outcome (audited as ``notification.sent`` or ``.failed``)."""
        t = s.notifications
        status = "sent" if delivered else "failed"
        with self._tx(None) as c:
            row = c.execute(
                update(t)
                .where(t.c.id == notification_id)
                .values(
                    status=status,
                    attempts=attempts,
                    last_error=last_error,
                    sent_at=at if delivered else None,
                )
                .returning(*t.c)
            ).first()
            if row is None:
                raise StoreError(f"no notification {notification_id}")
            audit_mod.append_audit(
                c,
                actor="tollguard",
                action=f"notification.{status}",
                subject=(
                    f"subscriber:{row.subscriber_id}"
                    if row.subscriber_id
                    else f"notification:{row.id}"
                ),
                reason=f"{row.kind} by {row.channel} to {row.recipient}",
                at=at,
                evidence={
                    "notification_id": row.id,
                    "attempts": attempts,
                    "last_error": last_error,
                    "subject": row.subject,
                    "body": row.body,
                },
            )
        return _notification(row)

    def list_notifications(
        self, *, subscriber_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[StoredNotification]:
        """Notifications, newest first."""
        t = s.notifications
        q = select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        if subscriber_id is not None:
            q = q.where(t.c.subscriber_id == subscriber_id)
        if status is not None:
            q = q.where(t.c.status == status)
        with self._read() as conn:
            return [_notification(r) for r in conn.execute(q)]

    # -- web users ------------------------------------------------------------------------------
    # People who log in to the console and the portal (tollguard.app.console), and the read-only
    # queries their pages need. Changes are audited: user created, password changed, login, lock.

    def create_web_user(
        self,
        username: str,
        role: str,
        *,
        password_hash: str,
        by: str,
        at: datetime,
        subscriber_id: str | None = None,
        locale: str = "ja",
    ) -> WebUser:
        """Add a login (audited as ``web_user.create``). A customer's names their subscriber;
        an analyst's or admin's names none. Only the password's hash is given."""
        if role not in s.WEB_ROLES:
            raise StoreError(f"unknown role {role!r} (one of {', '.join(s.WEB_ROLES)})")
        if not username or len(username) > 128 or not username.isprintable():
            raise StoreError("a username is 1-128 printable characters")
        if (role == "customer") != (subscriber_id is not None):
            raise StoreError("a customer login needs --subscriber-id; other roles take none")
        t = s.web_users
        with self._tx(None) as c:
            if subscriber_id is not None:
                known = c.execute(
                    select(s.subscribers.c.subscriber_id).where(
                        s.subscribers.c.subscriber_id == subscriber_id
                    )
                ).first()
                if known is None:
                    raise StoreError(f"no subscriber {subscriber_id!r}")
            if c.execute(select(t.c.id).where(t.c.username == username)).first() is not None:
                raise StoreError(f"username {username!r} is taken")
            row = c.execute(
                t.insert().returning(*t.c),
                {
                    "username": username,
                    "role": role,
                    "subscriber_id": subscriber_id,
                    "password_hash": password_hash,
                    "locale": locale,
                    "created_by": by,
                    "created_at": at,
                    "failed_logins": 0,
                },
            ).one()
            audit_mod.append_audit(
                c,
                actor=by,
                action="web_user.create",
                subject=f"web_user:{row.id}",
                reason=f"login {username!r} with role {role}",
                at=at,
                evidence={"username": username, "role": role, "subscriber_id": subscriber_id},
            )
        return _web_user(row)

    def get_web_user(self, username: str) -> WebUser | None:
        """A login by username, or ``None``."""
        t = s.web_users
        with self._read() as conn:
            row = conn.execute(select(t).where(t.c.username == username)).first()
        return None if row is None else _web_user(row)

    def get_web_user_by_id(self, user_id: int) -> WebUser | None:
        """A login by id, or ``None``."""
        t = s.web_users
        with self._read() as conn:
            row = conn.execute(select(t).where(t.c.id == user_id)).first()
        return None if row is None else _web_user(row)

    def list_web_users(self) -> list[WebUser]:
        """Every login, oldest first."""
        with self._read() as conn:
            return [_web_user(r) for r in conn.execute(select(s.web_users).order_by("id"))]

    def set_web_user_password(
        self, user_id: int, *, password_hash: str, by: str, at: datetime
    ) -> WebUser:
        """Replace a login's password hash and unlock it (audited as ``web_user.password``)."""
        t = s.web_users
        with self._tx(None) as c:
            row = c.execute(
                update(t)
                .where(t.c.id == user_id)
                .values(password_hash=password_hash, failed_logins=0, locked_until=None)
                .returning(*t.c)
            ).first()
            if row is None:
                raise StoreError(f"no web user {user_id}")
            audit_mod.append_audit(
                c,
                actor=by,
                action="web_user.password",
                subject=f"web_user:{user_id}",
                reason="password changed",
                at=at,
                evidence={"username": row.username},
            )
        return _web_user(row)

    def set_web_user_locale(self, user_id: int, locale: str) -> None:
        """Remember a login's language (a preference: not audited)."""
        t = s.web_users
        with self._tx(None) as c:
            c.execute(update(t).where(t.c.id == user_id).values(locale=locale))

    def record_login(
        self,
        user_id: int,
        *,
        ok: bool,
        at: datetime,
        client: str,
        max_failures: int,
        lock_s: float,
    ) -> WebUser:
        """Record a login attempt. A success resets the failures (audited as
        ``web_user.login``); the ``max_failures``-th failure in a row locks the login for
        ``lock_s`` seconds (audited as ``web_user.lock``)."""
        t = s.web_users
        with self._tx(None) as c:
            row = c.execute(select(t).where(t.c.id == user_id)).first()
            if row is None:
                raise StoreError(f"no web user {user_id}")
            evidence = {"username": row.username, "client": client}
            if ok:
                values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
                action, reason = "web_user.login", "logged in"
            else:
                failures = row.failed_logins + 1
                if failures < max_failures:
                    c.execute(update(t).where(t.c.id == user_id).values(failed_logins=failures))
                    return _web_user(c.execute(select(t).where(t.c.id == user_id)).one())
                values = {"failed_logins": 0, "locked_until": at + timedelta(seconds=lock_s)}
                action = "web_user.lock"
                reason = f"{failures} failed logins in a row: locked for {lock_s:.0f} s"
            new = c.execute(update(t).where(t.c.id == user_id).values(**values).returning(*t.c))
            audit_mod.append_audit(
                c,
                actor=f"{row.role}:{row.username}" if ok else "tollguard",
                action=action,
                subject=f"web_user:{user_id}",
                reason=reason,
                at=at,
                evidence=evidence,
            )
            return _web_user(new.one())

    def search_audit(
        self,
        *,
        text: str | None = None,
        action: str | None = None,
        before_seq: int | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Audit entries, newest first: ``text`` anywhere in actor, action, subject, reason or
        evidence (case-insensitive), ``action`` as a prefix (``portal.``), older than
        ``before_seq``, not before ``since``."""
        a = s.audit_log
        q = select(a).order_by(a.c.seq.desc()).limit(limit)
        if text:
            needle = text.lower()
            q = q.where(
                or_(
                    *(
                        func.lower(col).contains(needle, autoescape=True)
                        for col in (a.c.actor, a.c.action, a.c.subject, a.c.reason)
                    ),
                    func.lower(cast(a.c.evidence, String)).contains(needle, autoescape=True),
                )
            )
        if action:
            q = q.where(a.c.action.startswith(action, autoescape=True))
        if before_seq is not None:
            q = q.where(a.c.seq < before_seq)
        if since is not None:
            q = q.where(a.c.time >= since)
        with self._read() as conn:
            return [audit_mod.row_to_entry(r) for r in conn.execute(q)]

    def destination_traffic(
        self,
        *,
        since: datetime,
        until: datetime,
        countries: Iterable[str] = (),
        prefixes: Iterable[str] = (),
    ) -> dict[str, tuple[int, float]]:
        """Stored calls and their charges in ``[since, until)`` to each country (ISO alpha-2)
        and each E.164 prefix (digits), keyed ``country:XX`` and ``range:DIGITS``."""
        d = s.cdrs.c
        window = and_(d.start_time >= since, d.start_time < until)
        out: dict[str, tuple[int, float]] = {}
        wanted = sorted(set(countries))
        with self._read() as conn:
            if wanted:
                rows = conn.execute(
                    select(d.country, func.count(), func.coalesce(func.sum(d.charge_jpy), 0.0))
                    .where(window, d.country.in_(wanted))
                    .group_by(d.country)
                )
                out |= {f"country:{r[0]}": (int(r[1]), float(r[2])) for r in rows}
            for prefix in sorted(set(prefixes)):
                r = conn.execute(
                    select(func.count(), func.coalesce(func.sum(d.charge_jpy), 0.0)).where(
                        window, d.callee_e164.startswith(f"+{prefix}", autoescape=True)
                    )
                ).one()
                out[f"range:{prefix}"] = (int(r[0]), float(r[1]))
        return out

    # -- notice templates -----------------------------------------------------------------------

    def get_notice_template(self, kind: str, locale: str) -> StoredNoticeTemplate | None:
        """A carrier's own template of a kind and locale, or ``None`` (the packaged one applies)."""
        t = s.notice_templates
        with self._read() as conn:
            row = conn.execute(select(t).where(t.c.kind == kind, t.c.locale == locale)).first()
        return None if row is None else _notice_template(row)

    def list_notice_templates(self) -> list[StoredNoticeTemplate]:
        """The carrier's own templates, by kind and locale."""
        t = s.notice_templates
        with self._read() as conn:
            rows = conn.execute(select(t).order_by(t.c.kind, t.c.locale))
            return [_notice_template(r) for r in rows]

    def put_notice_template(
        self,
        kind: str,
        locale: str,
        *,
        subject: str,
        body: str,
        by: str,
        at: datetime,
        reason: str = "",
        conn: Connection | None = None,
    ) -> StoredNoticeTemplate:
        """Keep a carrier's own template (audited as ``notice_template.put`` with the old and the
        new text). Checking its fields is the caller's (:func:`tollguard.domain.notices.validate`).
        """
        if not subject.strip() or not body.strip():
            raise StoreError("a notice template needs a subject and a body")
        t = s.notice_templates
        values = {"subject": subject, "body": body, "updated_by": by, "updated_at": at}
        with self._tx(conn) as c:
            old = c.execute(select(t).where(t.c.kind == kind, t.c.locale == locale)).first()
            if old is None:
                row = c.execute(
                    t.insert().returning(*t.c), {"kind": kind, "locale": locale, **values}
                ).one()
            else:
                row = c.execute(
                    update(t)
                    .where(t.c.kind == kind, t.c.locale == locale)
                    .values(**values)
                    .returning(*t.c)
                ).one()
            audit_mod.append_audit(
                c,
                actor=by,
                action="notice_template.put",
                subject=f"notice_template:{kind}/{locale}",
                reason=reason or f"notice template {kind}/{locale} edited",
                at=at,
                evidence={
                    "subject": subject,
                    "body": body,
                    "previous": None
                    if old is None
                    else {"subject": old.subject, "body": old.body, "updated_by": old.updated_by},
                },
            )
        return _notice_template(row)

    def delete_notice_template(
        self,
        kind: str,
        locale: str,
        *,
        by: str,
        at: datetime,
        reason: str = "",
        conn: Connection | None = None,
    ) -> bool:
        """Drop a carrier's own template, so the packaged one applies again (audited as
        ``notice_template.reset``); ``False`` when there was none."""
        t = s.notice_templates
        with self._tx(conn) as c:
            old = c.execute(
                delete(t)
                .where(t.c.kind == kind, t.c.locale == locale)
                .returning(t.c.subject, t.c.body)
            ).first()
            if old is None:
                return False
            audit_mod.append_audit(
                c,
                actor=by,
                action="notice_template.reset",
                subject=f"notice_template:{kind}/{locale}",
                reason=reason or f"notice template {kind}/{locale} back to the packaged text",
                at=at,
                evidence={"previous": {"subject": old.subject, "body": old.body}},
            )
        return True


def _web_user(row: Row[Any]) -> WebUser:
    return WebUser(
        row.id,
        row.username,
        row.role,
        row.subscriber_id,
        row.password_hash,
        row.locale,
        row.created_by,
        row.created_at,
        row.disabled_at,
        row.failed_logins,
        row.locked_until,
    )


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(row.id, row.name, row.role, row.created_by, row.created_at, row.revoked_at)


def _notification(row: Row[Any]) -> StoredNotification:
    return StoredNotification(
        row.id,
        row.kind,
        row.channel,
        row.recipient,
        row.subject,
        row.body,
        row.subscriber_id,
        row.reference,
        row.created_at,
        row.status,
        row.attempts,
        row.last_error,
        row.sent_at,
    )


def _notice_template(row: Row[Any]) -> StoredNoticeTemplate:
    return StoredNoticeTemplate(
        row.kind, row.locale, row.subject, row.body, row.updated_by, row.updated_at
    )


def table_names() -> Sequence[str]:
    """Names of the store's tables."""
    return sorted(s.metadata.tables)
