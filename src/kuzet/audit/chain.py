"""Append to and verify the hash-chained audit trail.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON content, so an
edited, inserted or deleted row breaks the chain from that point on. Writers serialise on the chain head:
SQLite has a single writer anyway; PostgreSQL takes a transaction-scoped advisory lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kuzet.store.models import AuditEntry

_ADVISORY_KEY = 0x6B757A6574  # "kuzet"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user (id, name, role) or the system itself."""

    user_id: int | None
    username: str
    role: str


SYSTEM = Actor(None, "system", "system")


def _content(entry: AuditEntry) -> bytes:
    at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    return orjson.dumps(
        {
            "at": at.isoformat(timespec="microseconds"),
            "user_id": entry.user_id,
            "username": entry.username,
            "role": entry.role,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "subject_person_id": entry.subject_person_id,
            "purpose": entry.purpose,
            "detail": entry.detail,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _content(entry)).hexdigest()


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int = "",
    *,
    person_id: int | None = None,
    purpose: str = "",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (it commits or rolls back with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    prev = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    entry = AuditEntry(
        at=(at or datetime.now(UTC)).astimezone(UTC),
        user_id=actor.user_id,
        username=actor.username,
        role=actor.role,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        subject_person_id=person_id,
        purpose=purpose,
        detail=detail or {},
        prev_hash=prev or "",
    )
    entry.hash = entry_hash(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; report the first entry whose link or content does not match.

    Entries are read in batches (``yield_per``), so a trail of millions of entries is checked in constant memory.
    """
    prev = ""
    count = 0
    last_id: int | None = None
    entries = session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=2000))
    for entry in entries.scalars():
        count += 1
        if entry.prev_hash != prev:
            why = "a previous entry was deleted or altered" if last_id is not None else "chain start altered"
            return VerifyResult(False, count, entry.id, f"entry {entry.id}: broken link ({why})")
        if entry_hash(prev, entry) != entry.hash:
            return VerifyResult(False, count, entry.id, f"entry {entry.id}: content does not match its hash")
        prev = entry.hash
        last_id = entry.id
    return VerifyResult(True, count)
