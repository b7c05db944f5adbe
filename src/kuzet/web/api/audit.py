"""API v1: the audit trail, for auditors only. Reading it is itself recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.services import audit as svc

from .schemas import ID_MAX, AuditEntryOut, AuditVerifyOut

router = APIRouter(prefix="/api/v1", tags=["audit"])
auditors = require_roles(Role.AUDITOR)


@router.get("/audit", response_model=list[AuditEntryOut])
def list_audit(person_id: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
               username: Annotated[str | None, Query(max_length=64)] = None,
               action: Annotated[str | None, Query(max_length=32)] = None,
               object_type: Annotated[str | None, Query(max_length=40)] = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200,
               offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
               principal: Principal = Depends(auditors), session: Session = Depends(get_session)
               ) -> list[AuditEntryOut]:
    """Entries newest first, filtered by subject, user, action, object type or period."""
    entries = svc.read_trail(session, principal, svc.AuditQuery(person_id, username, action, object_type, since,
                                                                 until, limit, offset))
    return [AuditEntryOut.model_validate(e) for e in entries]


@router.get("/audit/verify", response_model=AuditVerifyOut)
def verify_audit(request: Request, principal: Principal = Depends(auditors),
                 session: Session = Depends(get_session)) -> AuditVerifyOut:
    """Check the hash chain and its signed anchors; list every problem found."""
    report = svc.verify(session, principal, request.app.state.settings.secret_key)
    return AuditVerifyOut(ok=report.ok, entries=report.entries, anchors=report.anchors,
                          problems=list(report.problems))
