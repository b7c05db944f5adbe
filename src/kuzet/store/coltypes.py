"""Column types shared by all models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend; naive values are refused, never guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store times in UTC with tzinfo")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONType(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class SealedString(TypeDecorator[str]):
    """A secret kept encrypted in the database and read back in clear (devices' protocol keys, TOTP seeds).

    AES-256-GCM under ``KUZET_FIELD_KEY`` with the column's name as associated data
    (:mod:`kuzet.privacy.fields`), so a database dump alone does not reveal it. An empty value stays empty.
    A value sealed under a key since moved to ``KUZET_FIELD_KEYS_RETIRED`` still reads; ``kuzet privacy
    rotate-field-key`` re-encrypts it under the current key. A value stored before the column was sealed (no
    ``v2:`` or ``v1:`` prefix) reads back as it is; the migration that sealed the column encrypted those already.
    """

    impl = String
    cache_ok = True

    def __init__(self, context: str, length: int = 255) -> None:
        super().__init__(length)
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        from kuzet.privacy.fields import encrypt_field, is_sealed

        if not value or is_sealed(value):
            return value
        return encrypt_field(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        from kuzet.privacy.fields import decrypt_field, is_sealed

        if not value or not is_sealed(value):
            return value
        return decrypt_field(value, context=self.context)
