"""The auditor's reads of the audit trail (and the recording of those reads)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from sqlalchemy.orm import Session

from kuzet.access import AccessDenied
from kuzet.audit import record
from kuzet.audit.anchor import TrailReport, verify_trail
from kuzet.audit.reads import AuditQuery, list_entries
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.domain.errors import DomainError
from kuzet.store.models import AuditEntry

__all__ = ["AuditQuery", "read_trail", "verify"]


def _require_auditor(principal: Principal) -> None:
    if principal.role is not Role.AUDITOR:
        raise AccessDenied("only an auditor reads the audit trail")


def read_trail(session: Session, principal: Principal, query: AuditQuery) -> Sequence[AuditEntry]:
    _require_auditor(principal)
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is not None and value.tzinfo is None:
            raise DomainError("must carry a time zone", field=name)
    entries = list_entries(session, query)
    record(session, principal.actor, "read", "audit_trail", "", person_id=query.person_id, purpose="audit",
           detail={"filters": {k: (v.astimezone(UTC).isoformat() if hasattr(v, "astimezone") else v)
                               for k, v in vars_of(query).items() if v is not None}})
    return entries


def vars_of(query: AuditQuery) -> dict[str, object]:
    return {k: getattr(query, k) for k in query.__dataclass_fields__}


def verify(session: Session, principal: Principal, key: str) -> TrailReport:
    _require_auditor(principal)
    return verify_trail(session, key)
