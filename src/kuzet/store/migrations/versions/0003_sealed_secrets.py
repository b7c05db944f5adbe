"""Core: devices' protocol keys and users' TOTP seeds stored encrypted (``SealedString``).

The columns widen to hold the encrypted form (``v1:`` + base64 of nonce, ciphertext and tag), and the values
already stored are encrypted under ``KUZET_FIELD_KEY``; the downgrade decrypts them again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("devices", "secret", "devices.secret", 128, False), ("users", "totp_secret", "users.totp_secret", 64,
                                                                   True))


def _rewrite(table: str, column: str, change: object) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''"
                                )).all()
    for row_id, value in rows:
        new = change(value)  # type: ignore[operator]
        if new != value:
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :i"), {"v": new, "i": row_id})


def upgrade() -> None:
    from kuzet.privacy.fields import PREFIX, encrypt_field

    for table, column, context, _, nullable in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=255), existing_nullable=nullable)
        _rewrite(table, column,
                 lambda v, c=context: v if v.startswith(PREFIX) else encrypt_field(v, context=c))


def downgrade() -> None:
    from kuzet.privacy.fields import PREFIX, decrypt_field

    for table, column, context, length, nullable in _COLUMNS:
        _rewrite(table, column,
                 lambda v, c=context: decrypt_field(v, context=c) if v.startswith(PREFIX) else v)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=length), existing_nullable=nullable)
