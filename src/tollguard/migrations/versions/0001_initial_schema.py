"""Initial schema: subscribers, CDRs, SIP events, quarantine, ingested files, controls, cases,
contact attempts, restricted destinations, the hash-chained audit log, snapshots and offsets.

The audit log is append-only: triggers reject UPDATE, DELETE (and on PostgreSQL TRUNCATE) on it.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:32:19
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_PG_APPEND_ONLY = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_APPEND_ONLY, "postgresql": _PG_APPEND_ONLY}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    """Create every table of the store."""
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(
        op.f("ix_cases_subscriber_id_opened_at"),
        "cases",
        ["subscriber_id", "opened_at"],
        unique=False,
    )

    op.create_table(
        "controls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('suspension', 'country_restriction', 'ip_block', 'destination_denial')",
            name=op.f("ck_controls_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controls")),
    )
    op.create_index(op.f("ix_controls_kind_subject"), "controls", ["kind", "subject"], unique=False)

    op.create_table(
        "engine_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offsets", sa.JSON(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_snapshots")),
    )
    op.create_index(
        op.f("ix_engine_snapshots_name_taken_at"),
        "engine_snapshots",
        ["name", "taken_at"],
        unique=False,
    )

    op.create_table(
        "ingested_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("rows_duplicate", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('subscribers', 'cdrs', 'sip_events')", name=op.f("ck_ingested_files_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingested_files")),
        sa.UniqueConstraint("kind", "sha256", name=op.f("uq_ingested_files_kind_sha256")),
    )
    op.create_table(
        "input_offsets",
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_input_offsets")),
    )
    op.create_table(
        "restricted_destinations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('country', 'range')", name=op.f("ck_restricted_destinations_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restricted_destinations")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_restricted_destinations_kind_value")),
    )
    op.create_table(
        "subscribers",
        sa.Column("subscriber_id", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=8), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("intl_status", sa.String(length=16), nullable=False),
        sa.Column("equipment", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscribers")),
    )
    op.create_table(
        "cdrs",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("subscriber_id", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("callee", sa.String(length=64), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("billable_seconds", sa.Float(), nullable=False),
        sa.Column("callee_e164", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("number_type", sa.String(length=32), nullable=True),
        sa.Column("charge_jpy", sa.Float(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["ingested_files.id"], name=op.f("fk_cdrs_file_id_ingested_files")
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_cdrs")),
    )
    op.create_index(op.f("ix_cdrs_file_id"), "cdrs", ["file_id"], unique=False)
    op.create_index(op.f("ix_cdrs_start_time"), "cdrs", ["start_time"], unique=False)
    op.create_index(
        op.f("ix_cdrs_subscriber_id_start_time"),
        "cdrs",
        ["subscriber_id", "start_time"],
        unique=False,
    )

    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("made_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_contact_attempts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
    )
    op.create_index(
        op.f("ix_contact_attempts_case_id_time"),
        "contact_attempts",
        ["case_id", "time"],
        unique=False,
    )

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["ingested_files.id"], name=op.f("fk_quarantine_file_id_ingested_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_file_id"), "quarantine", ["file_id"], unique=False)
    op.create_index(
        op.f("ix_quarantine_source_file_line"), "quarantine", ["source_file", "line"], unique=False
    )

    op.create_table(
        "sip_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["ingested_files.id"], name=op.f("fk_sip_events_file_id_ingested_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_events")),
    )
    op.create_index(op.f("ix_sip_events_file_id"), "sip_events", ["file_id"], unique=False)
    op.create_index(
        op.f("ix_sip_events_source_ip_time"), "sip_events", ["source_ip", "time"], unique=False
    )
    op.create_index(op.f("ix_sip_events_time"), "sip_events", ["time"], unique=False)
    _append_only_triggers()


def downgrade() -> None:
    """Drop every table of the store."""
    op.drop_index(op.f("ix_sip_events_time"), table_name="sip_events")
    op.drop_index(op.f("ix_sip_events_source_ip_time"), table_name="sip_events")
    op.drop_index(op.f("ix_sip_events_file_id"), table_name="sip_events")

    op.drop_table("sip_events")
    op.drop_index(op.f("ix_quarantine_source_file_line"), table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_file_id"), table_name="quarantine")

    op.drop_table("quarantine")
    op.drop_index(op.f("ix_contact_attempts_case_id_time"), table_name="contact_attempts")

    op.drop_table("contact_attempts")
    op.drop_index(op.f("ix_cdrs_subscriber_id_start_time"), table_name="cdrs")
    op.drop_index(op.f("ix_cdrs_start_time"), table_name="cdrs")
    op.drop_index(op.f("ix_cdrs_file_id"), table_name="cdrs")

    op.drop_table("cdrs")
    op.drop_table("subscribers")
    op.drop_table("restricted_destinations")
    op.drop_table("input_offsets")
    op.drop_table("ingested_files")
    op.drop_index(op.f("ix_engine_snapshots_name_taken_at"), table_name="engine_snapshots")

    op.drop_table("engine_snapshots")
    op.drop_index(op.f("ix_controls_kind_subject"), table_name="controls")

    op.drop_table("controls")
    op.drop_index(op.f("ix_cases_subscriber_id_opened_at"), table_name="cases")

    op.drop_table("cases")
    op.drop_index(op.f("ix_audit_log_subject"), table_name="audit_log")

    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
