"""Pipeline: leases for the work exactly one process may do (alert worker, periodic jobs).

Revision ID: pipeline_0003
Revises: pipeline_0002
Create Date: 2026-11-29 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuzet.store.coltypes import UTCDateTime

revision: str = "pipeline_0003"
down_revision: str | Sequence[str] | None = "pipeline_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pipeline_leases")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_leases")
