"""API v1: the alert queue (scoped list) and acknowledgement. The alert-workflow capability adds the rest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.services import alerts as svc

from .schemas import ID_MAX, AcknowledgeIn, AlertOut

router = APIRouter(prefix="/api/v1", tags=["alerts"])
alert_readers = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR)


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(status: Annotated[str | None, Query(max_length=16)] = None,
                person_id: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
                open_only: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                principal: Principal = Depends(alert_readers),
                session: Session = Depends(get_session)) -> list[AlertOut]:
    """Alerts in scope, most severe and newest first (an operator sees the whole region's)."""
    alerts = svc.list_alerts(session, principal, status=status, person_id=person_id, open_only=open_only,
                             limit=limit)
    return [AlertOut.model_validate(a) for a in alerts]


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: Annotated[int, Path(ge=1, le=ID_MAX)], principal: Principal = Depends(alert_readers),
              session: Session = Depends(get_session)) -> AlertOut:
    return AlertOut.model_validate(svc.get_alert(session, principal, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: Annotated[int, Path(ge=1, le=ID_MAX)], body: AcknowledgeIn,
                principal: Principal = Depends(alert_readers), session: Session = Depends(get_session)) -> AlertOut:
    """Mark the alert as seen and being handled by the caller."""
    return AlertOut.model_validate(svc.acknowledge_alert(session, principal, alert_id, body.note))
