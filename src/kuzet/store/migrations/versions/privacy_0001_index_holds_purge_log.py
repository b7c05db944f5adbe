"""Privacy: space-time index of positions (H3 cell + time), trail hours, court holds, purge log.

Revision ID: privacy_0001
Revises: 0002
Create Date: 2026-11-29 05:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuzet.store.coltypes import JSONType, UTCDateTime

revision: str = "privacy_0001"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = ("privacy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_position_cells",
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False,
                  nullable=False),
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_privacy_position_cells")),
    )
    op.create_index("ix_privacy_position_cells_cell_time", "privacy_position_cells",
                    ["cell", "time", "person_id", "lat", "lon", "accuracy_m"])
    op.create_table(
        "privacy_trail_hours",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("fixes", sa.Integer(), nullable=False),
        sa.Column("first_time", UTCDateTime(), nullable=False),
        sa.Column("last_time", UTCDateTime(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_accuracy_m", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "hour", name=op.f("pk_privacy_trail_hours")),
    )
    op.create_index("ix_privacy_trail_hours_hour", "privacy_trail_hours", ["hour"])
    op.create_table(
        "privacy_court_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_reference", sa.String(length=120), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("range_start", UTCDateTime(), nullable=True),
        sa.Column("range_end", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_court_holds")),
    )
    op.create_index(op.f("ix_privacy_court_holds_person_id"), "privacy_court_holds", ["person_id"])
    op.create_table(
        "privacy_purge_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("cutoff", UTCDateTime(), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("oldest", UTCDateTime(), nullable=True),
        sa.Column("newest", UTCDateTime(), nullable=True),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("detail", JSONType(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_purge_log")),
    )
    op.create_index(op.f("ix_privacy_purge_log_run_id"), "privacy_purge_log", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_privacy_purge_log_run_id"), table_name="privacy_purge_log")
    op.drop_table("privacy_purge_log")
    op.drop_index(op.f("ix_privacy_court_holds_person_id"), table_name="privacy_court_holds")
    op.drop_table("privacy_court_holds")
    op.drop_index("ix_privacy_trail_hours_hour", table_name="privacy_trail_hours")
    op.drop_table("privacy_trail_hours")
    op.drop_index("ix_privacy_position_cells_cell_time", table_name="privacy_position_cells")
    op.drop_table("privacy_position_cells")
