"""Canonical hashes of stored records, so that a document can prove what the store held when it was made."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import inspect
from sqlalchemy.orm import DeclarativeBase


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def record_hash(row: DeclarativeBase) -> str:
    """SHA-256 over every column of ``row``, canonically serialised (sorted keys, ISO times, hex bytes)."""
    mapper = inspect(type(row))
    data = {c.key: getattr(row, c.key) for c in mapper.column_attrs}
    return hashlib.sha256(orjson.dumps(data, default=_default, option=orjson.OPT_SORT_KEYS)).hexdigest()
