"""Seed the device-type catalogue with the seven approved types.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuzet.store.catalogue import SEVEN_TYPES

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = sa.table(
        "device_types",
        sa.column("code", sa.String),
        sa.column("name_ru", sa.String),
        sa.column("name_kk", sa.String),
        sa.column("name_en", sa.String),
        sa.column("procedure", sa.JSON),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(table, [{**t, "active": True} for t in SEVEN_TYPES])


def downgrade() -> None:
    codes = [t["code"] for t in SEVEN_TYPES]
    op.execute(sa.text("DELETE FROM device_types WHERE code IN :codes").bindparams(
        sa.bindparam("codes", codes, expanding=True)))
