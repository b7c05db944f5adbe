"""Read-side helpers: recording a read of personal data, and listing the trail for auditors.

Services call :func:`record_read` for every read of a person's record or location, inside the same
transaction as the read. :func:`list_entries` is for the auditor role only; callers check the role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.store.models import AuditEntry

from .chain import Actor, record


def record_read(session: Session, actor: Actor, object_type: str, object_id: str | int = "", *,
                person_id: int | None = None, purpose: str = "", detail: dict[str, Any] | None = None) -> None:
    """Append a ``read`` entry (who, role, what, when, purpose) to the chain."""
    record(session, actor, "read", object_type, object_id, person_id=person_id, purpose=purpose, detail=detail)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    person_id: int | None = None
    username: str | None = None
    action: str | None = None
    object_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    offset: int = 0


def list_entries(session: Session, query: AuditQuery) -> Sequence[AuditEntry]:
    stmt = select(AuditEntry)
    if query.person_id is not None:
        stmt = stmt.where(AuditEntry.subject_person_id == query.person_id)
    if query.username:
        stmt = stmt.where(AuditEntry.username == query.username)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.object_type:
        stmt = stmt.where(AuditEntry.object_type == query.object_type)
    if query.since is not None:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEntry.at < query.until)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(max(1, min(query.limit, 1000))).offset(max(0, query.offset))
    return list(session.execute(stmt).scalars())
