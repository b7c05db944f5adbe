"""Officer web application: where the audit chain starts after retention pruned its oldest entries.

Revision ID: web_0002
Revises: web_0001
Create Date: 2026-11-29 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuzet.store.coltypes

revision: str = "web_0002"
down_revision: str | Sequence[str] | None = "web_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_starts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("deleted", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("deleted_total", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("deleted_through", kuzet.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_starts")),
    )


def downgrade() -> None:
    op.drop_table("audit_chain_starts")
