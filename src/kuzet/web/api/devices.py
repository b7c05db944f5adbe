"""API v1: devices and a person's assignments (read only here; the devices capability changes them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.services import devices as svc

from .schemas import ID_MAX, AssignmentOut, DeviceOut

router = APIRouter(prefix="/api/v1", tags=["devices"])
readers = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR)


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(principal: Principal = Depends(readers), session: Session = Depends(get_session)) -> list[DeviceOut]:
    return [DeviceOut.model_validate(d) for d in svc.list_devices(session, principal)]


@router.get("/people/{person_id}/assignments", response_model=list[AssignmentOut])
def person_assignments(person_id: Annotated[int, Path(ge=1, le=ID_MAX)], principal: Principal = Depends(readers),
                       session: Session = Depends(get_session)) -> list[AssignmentOut]:
    """Devices fitted to the person, newest first (open while ``removed_at`` is null)."""
    return [AssignmentOut.model_validate(a) for a in svc.person_assignments(session, principal, person_id)]
