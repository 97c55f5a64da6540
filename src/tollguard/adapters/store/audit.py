"""The append-only audit log, chained with SHA-256 over canonical JSON.

Each entry's ``hash`` is ``sha256(canonical_json(entry without hash))``, and the entry includes the
``prev_hash`` of the entry before it (64 zeros for the first), so changing, removing or reordering
any entry breaks every hash after it. :func:`verify_audit_chain` recomputes the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.engine import Connection

from tollguard.adapters.store.schema import audit_log

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 0x746F6C6C  # pg_advisory_xact_lock key serialising appends ("toll")

JsonValue = Any
"""A value made of dict (string keys), list, str, int, float, bool and None."""


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def canonical_json(value: JsonValue) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 text, no NaN/Infinity."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )


def to_json_value(value: object) -> JsonValue:
    """``value`` as plain JSON data (datetimes as ISO text, tuples as lists, keys as strings)."""
    return json.loads(canonical_json(value))


def format_time(value: datetime) -> str:
    """An aware datetime as fixed-width ISO 8601 UTC with microseconds (``...T...ffffffZ``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} (times must be timezone-aware)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the audit log."""

    seq: int
    time: datetime
    actor: str
    action: str
    subject: str
    reason: str
    evidence: JsonValue
    prev_hash: str
    hash: str


def entry_hash(
    *,
    seq: int,
    time: datetime,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    evidence: JsonValue,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields, ``prev_hash`` included."""
    body = {
        "seq": seq,
        "time": format_time(time),
        "actor": actor,
        "action": action,
        "subject": subject,
        "reason": reason,
        "evidence": evidence,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def append_audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    at: datetime,
    evidence: Mapping[str, object] | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction and return it.

    Appends are serialised (an advisory lock on PostgreSQL; SQLite's write lock, taken by
    ``BEGIN IMMEDIATE``), and ``seq`` is the primary key, so two writers can never fork the chain.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
    last = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
    at = datetime.fromisoformat(format_time(at))  # UTC, microseconds: what the database keeps
    data = to_json_value(dict(evidence or {}))
    digest = entry_hash(
        seq=seq,
        time=at,
        actor=actor,
        action=action,
        subject=subject,
        reason=reason,
        evidence=data,
        prev_hash=prev_hash,
    )
    entry = AuditEntry(seq, at, actor, action, subject, reason, data, prev_hash, digest)
    conn.execute(
        audit_log.insert(),
        {
            "seq": seq,
            "time": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "reason": reason,
            "evidence": data,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    return entry


def row_to_entry(row: Row[Any]) -> AuditEntry:
    """Turn an ``audit_log`` row into an :class:`AuditEntry`."""
    return AuditEntry(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        reason=row.reason,
        evidence=row.evidence,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def verify_audit_chain(conn: Connection, *, batch: int = 10_000) -> tuple[bool, int | None]:
    """Recompute the chain: ``(True, None)`` when intact, else ``(False, first_bad_seq)``.

    An entry is bad when its ``seq`` is not the next number, its ``prev_hash`` is not the previous
    entry's hash, or its ``hash`` does not match its contents. A removed tail cannot be seen
    from the rows alone: keep the latest hash somewhere else (see ``docs/storage.md``).
    """
    expected_seq, prev = 1, GENESIS_HASH
    after = 0
    while True:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(batch)
        ).all()
        if not rows:
            return True, None
        for row in rows:
            e = row_to_entry(row)
            recomputed = entry_hash(
                seq=e.seq,
                time=e.time,
                actor=e.actor,
                action=e.action,
                subject=e.subject,
                reason=e.reason,
                evidence=e.evidence,
                prev_hash=e.prev_hash,
            )
            if e.seq != expected_seq or e.prev_hash != prev or e.hash != recomputed:
                return False, e.seq if e.seq == expected_seq else min(e.seq, expected_seq)
            expected_seq, prev = e.seq + 1, e.hash
        after = rows[-1].seq


def audit_count(conn: Connection) -> int:
    """Number of entries in the audit log."""
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
