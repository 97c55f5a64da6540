"""Candidates for the restricted destination list and the IP block list, from other carriers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the intel candidates table."""
    op.create_table(
        "intel_candidates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("cost_band", sa.String(length=16), nullable=True),
        sa.Column("feed_digest", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('country', 'range', 'ip')", name=op.f("ck_intel_candidates_kind")
        ),
        sa.CheckConstraint(
            "status IN ('candidate', 'accepted', 'rejected')",
            name=op.f("ck_intel_candidates_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intel_candidates")),
        sa.UniqueConstraint(
            "kind", "value", "source", name=op.f("uq_intel_candidates_kind_value_source")
        ),
    )
    op.create_index(
        op.f("ix_intel_candidates_status"), "intel_candidates", ["status"], unique=False
    )


def downgrade() -> None:
    """Drop the intel candidates table."""
    op.drop_index(op.f("ix_intel_candidates_status"), table_name="intel_candidates")
    op.drop_table("intel_candidates")
