"""Gateway: commands queued to devices (locate now, messages), sent when the device connects.

Revision ID: gateway_0001
Revises: 0002
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuzet.store.coltypes import JSONType, UTCDateTime

revision: str = "gateway_0001"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = ("gateway",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_serial", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", JSONType(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_commands")),
    )
    op.create_index("ix_device_commands_serial_status", "device_commands", ["device_serial", "status"])


def downgrade() -> None:
    op.drop_index("ix_device_commands_serial_status", table_name="device_commands")
    op.drop_table("device_commands")
