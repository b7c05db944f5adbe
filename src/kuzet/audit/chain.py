"""Append to and verify the hash-chained audit trail.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON content, so an
edited, inserted or deleted row breaks the chain from that point on. Writers serialise on the chain head:
SQLite has a single writer anyway; PostgreSQL takes a transaction-scoped advisory lock.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, delete, func, or_, select, text
from sqlalchemy.orm import Session

from kuzet.store.models import AuditEntry

from .models import AuditChainStart

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


def chain_start(session: Session) -> AuditChainStart | None:
    """The latest :class:`~kuzet.audit.models.AuditChainStart` (where a pruned chain begins), or ``None``."""
    return session.execute(select(AuditChainStart).order_by(AuditChainStart.id.desc()).limit(1)).scalar()


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; report the first entry whose link or content does not match.

    A chain that retention has pruned starts at its recorded start (:func:`prune`): the first entry must be
    the one recorded there and link to the hash recorded there (the signature of that record is checked by
    :func:`kuzet.audit.anchor.verify_trail`, which has the key). Entries are read in batches (``yield_per``),
    so a trail of millions of entries is checked in constant memory.
    """
    start = chain_start(session)
    prev = "" if start is None else start.prev_hash
    count = 0
    last_id: int | None = None
    entries = session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=2000))
    for entry in entries.scalars():
        count += 1
        if last_id is None and start is not None and entry.id != start.first_entry_id:
            return VerifyResult(False, count, entry.id, f"entry {entry.id}: the chain was pruned to start at entry "
                                f"{start.first_entry_id}, but starts at {entry.id} (entries deleted or added "
                                "at its start)")
        if entry.prev_hash != prev:
            why = "a previous entry was deleted or altered" if last_id is not None else "chain start altered"
            return VerifyResult(False, count, entry.id, f"entry {entry.id}: broken link ({why})")
        if entry_hash(prev, entry) != entry.hash:
            return VerifyResult(False, count, entry.id, f"entry {entry.id}: content does not match its hash")
        prev = entry.hash
        last_id = entry.id
    return VerifyResult(True, count)


def start_mac(key: str, first_entry_id: int, prev_hash: str, deleted_total: int) -> str:
    msg = f"start\n{first_entry_id}\n{prev_hash}\n{deleted_total}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class PruneResult:
    deleted: int
    oldest: datetime | None = None
    newest: datetime | None = None
    #: Expired entries kept because an entry before them in the chain must stay (not expired, or held).
    kept_for_chain: int = 0
    first_kept_id: int | None = None
    refused: str = ""


def prune(session: Session, cutoff: datetime, key: str, *, keep: ColumnElement[bool] | None = None,
          at: datetime | None = None) -> PruneResult:
    """Delete the oldest entries of the chain: the longest run from its start of entries older than
    ``cutoff`` that ``keep`` (a where-clause: a court hold) does not protect, never the newest entry.

    Only a prefix can go, so that what stays is still one verifiable chain; the new start is recorded and
    signed (:class:`~kuzet.audit.models.AuditChainStart`). The whole chain is verified first: pruning a chain
    that does not verify would destroy the evidence of the tampering, so it is refused.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    e = AuditEntry
    stays = e.at >= cutoff if keep is None else or_(e.at >= cutoff, keep)
    head = session.execute(select(func.max(e.id))).scalar()
    if head is None:
        return PruneResult(0)
    first_stay = session.execute(select(func.min(e.id)).where(stays)).scalar()
    limit = head if first_stay is None else min(first_stay, head)
    expired = session.execute(select(func.count()).where(e.at < cutoff, e.id >= limit)).scalar() or 0
    n, oldest, newest = session.execute(select(func.count(), func.min(e.at), func.max(e.at))
                                        .where(e.id < limit)).one()
    if not n:
        return PruneResult(0, kept_for_chain=int(expired))
    check = verify(session)
    if not check.ok:
        return PruneResult(0, kept_for_chain=int(expired) + n,
                           refused=f"the chain does not verify ({check.reason}); nothing pruned")
    last = session.execute(select(e).where(e.id < limit).order_by(e.id.desc()).limit(1)).scalar_one()
    first_kept = session.execute(select(e).where(e.id >= limit).order_by(e.id).limit(1)).scalar_one()
    previous = chain_start(session)
    total = (previous.deleted_total if previous is not None else 0) + n
    session.execute(delete(e).where(e.id < limit))
    session.add(AuditChainStart(at=(at or datetime.now(UTC)), first_entry_id=first_kept.id, prev_hash=last.hash,
                                deleted=n, deleted_total=total, deleted_through=newest,
                                mac=start_mac(key, first_kept.id, last.hash, total)))
    session.flush()
    return PruneResult(int(n), oldest, newest, int(expired), first_kept.id)
