"""Pipeline: monitor checkpoints (journal offsets and engine snapshot, written with the monitor's writes).

Revision ID: pipeline_0001
Revises: 0002
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuzet.store.coltypes import JSONType, UTCDateTime

revision: str = "pipeline_0001"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = ("pipeline",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_checkpoints",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("offsets", JSONType(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("plan_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pipeline_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_checkpoints")
