"""The transactional schema, as SQLAlchemy Core tables.

The Alembic migrations under :mod:`tollguard.migrations` create exactly this (a test compares them).
All timestamps are :class:`UTCDateTime` (aware, UTC); structured evidence is JSON.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tollguard.adapters.store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

CONTROL_KINDS = ("suspension", "country_restriction", "ip_block", "destination_denial")
DESTINATION_KINDS = ("country", "range")
CONSENT_STATES = ("not_asked", "requested", "granted", "declined", "withdrawn")
FILE_KINDS = ("subscribers", "cdrs", "sip_events")
INTEL_KINDS = ("country", "range", "ip")
INTEL_STATUSES = ("candidate", "accepted", "rejected")
TOKEN_ROLES = ("switch", "analyst", "admin")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")
WEB_ROLES = ("customer", "analyst", "admin")

subscribers = Table(
    "subscribers",
    metadata,
    Column("subscriber_id", String(64), primary_key=True),
    Column("segment", String(16), nullable=False),
    Column("service", String(8), nullable=False),
    Column("numbers", JSON, nullable=False),
    Column("email", String(320), nullable=False),
    Column("intl_status", String(16), nullable=False),
    Column("equipment", String(200), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

cdrs = Table(
    "cdrs",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column("subscriber_id", String(64), nullable=False),
    Column("caller", String(64), nullable=False),
    Column("callee", String(64), nullable=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("answer_time", UTCDateTime, nullable=True),
    Column("end_time", UTCDateTime, nullable=False),
    Column("disposition", String(16), nullable=False),
    Column("source_ip", String(45), nullable=True),
    Column("billable_seconds", Float, nullable=False),
    Column("callee_e164", String(32), nullable=True),
    Column("country", String(8), nullable=True),
    Column("number_type", String(32), nullable=True),
    Column("charge_jpy", Float, nullable=False),
    Column("file_id", Integer, ForeignKey("ingested_files.id"), nullable=True),
    Column("ingested_at", UTCDateTime, nullable=False),
    Index(None, "subscriber_id", "start_time"),
    Index(None, "start_time"),
    Index(None, "file_id"),
)

sip_events = Table(
    "sip_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("source_ip", String(45), nullable=False),
    Column("username", String(200), nullable=False),
    Column("event", String(16), nullable=False),
    Column("user_agent", Text, nullable=False),
    Column("file_id", Integer, ForeignKey("ingested_files.id"), nullable=True),
    Index(None, "time"),
    Index(None, "source_ip", "time"),
    Index(None, "file_id"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("field", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    Column("file_id", Integer, ForeignKey("ingested_files.id"), nullable=True),
    Index(None, "source_file", "line"),
    Index(None, "file_id"),
)

ingested_files = Table(
    "ingested_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_accepted", Integer, nullable=False),
    Column("rows_quarantined", Integer, nullable=False),
    Column("rows_duplicate", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("kind", "sha256"),
    CheckConstraint(f"kind IN {FILE_KINDS!r}", name="kind"),
)

controls = Table(
    "controls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("lifted_at", UTCDateTime, nullable=True),
    Column("lifted_by", String(128), nullable=True),
    Column("lift_reason", Text, nullable=True),
    Column("evidence", JSON, nullable=False),
    Index(None, "kind", "subject"),
    CheckConstraint(f"kind IN {CONTROL_KINDS!r}", name="kind"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber_id", String(64), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Index(None, "subscriber_id", "opened_at"),
)

contact_attempts = Table(
    "contact_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("made_by", String(128), nullable=False),
    Index(None, "case_id", "time"),
)

restricted_destinations = Table(
    "restricted_destinations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(32), nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("provenance", Text, nullable=False),
    Column("added_by", String(128), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "value"),
    CheckConstraint(f"kind IN {DESTINATION_KINDS!r}", name="kind"),
)

dormant_consents = Table(
    "dormant_consents",
    metadata,
    Column("subscriber_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("note", Text, nullable=False),
    CheckConstraint(f"state IN {CONSENT_STATES!r}", name="state"),
)

intel_candidates = Table(
    "intel_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("country", String(8), nullable=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("calls", Integer, nullable=False),
    Column("cost_band", String(16), nullable=True),
    Column("feed_digest", String(64), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reviewed_by", String(128), nullable=True),
    Column("reviewed_at", UTCDateTime, nullable=True),
    UniqueConstraint("kind", "value", "source"),
    Index(None, "status"),
    CheckConstraint(f"kind IN {INTEL_KINDS!r}", name="kind"),
    CheckConstraint(f"status IN {INTEL_STATUSES!r}", name="status"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("hash"),
    Index(None, "subject"),
)

engine_snapshots = Table(
    "engine_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("offsets", JSON, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Index(None, "name", "taken_at"),
)

input_offsets = Table(
    "input_offsets",
    metadata,
    Column("source", String(512), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    UniqueConstraint("token_hash"),
    CheckConstraint(f"role IN {TOKEN_ROLES!r}", name="role"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("detector", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("subscriber_id", String(64), nullable=True),
    Column("evidence", JSON, nullable=False),
    Index(None, "time"),
    Index(None, "subscriber_id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(256), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("subscriber_id", String(64), nullable=True),
    Column("reference", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Index(None, "status"),
    Index(None, "subscriber_id"),
    CheckConstraint(f"status IN {NOTIFICATION_STATUSES!r}", name="status"),
)

web_users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("subscriber_id", String(64), nullable=True),
    Column("password_hash", String(256), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    UniqueConstraint("username"),
    Index(None, "subscriber_id"),
    CheckConstraint(f"role IN {WEB_ROLES!r}", name="role"),
)

notice_templates = Table(
    "notice_templates",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("locale", String(8), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
