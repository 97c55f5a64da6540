"""Dormant customers' consent to the suspension of international calling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the consent table."""
    op.create_table(
        "dormant_consents",
        sa.Column("subscriber_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "state IN ('not_asked', 'requested', 'granted', 'declined', 'withdrawn')",
            name=op.f("ck_dormant_consents_state"),
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_dormant_consents")),
    )


def downgrade() -> None:
    """Drop the consent table."""
    op.drop_table("dormant_consents")
