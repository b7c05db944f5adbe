"""API v1: people, their court orders (versioned), zones and schedules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from kuzet.access import NotVisible
from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.services import people as svc
from kuzet.web.services import whatif

from .schemas import (
    ID_MAX,
    OrderCreate,
    OrderOut,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    ScheduleIn,
    WhatIfIn,
    WhatIfOut,
    ZoneCreate,
    ZoneOut,
    ZoneUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["people"])
readers = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR)
editors = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
PersonId = Annotated[int, Path(ge=1, le=ID_MAX)]
ZoneId = Annotated[int, Path(ge=1, le=ID_MAX)]
Purpose = Annotated[str, Query(min_length=3, max_length=300, description="why the record is read (audited)")]


@router.get("/people", response_model=list[PersonOut])
def list_people(search: Annotated[str | None, Query(max_length=100)] = None,
                purpose: Purpose = svc.DEFAULT_PURPOSE,
                principal: Principal = Depends(readers), session: Session = Depends(get_session)) -> list[PersonOut]:
    """People in the caller's scope: an officer's caseload, a supervisor's unit, an operator's region."""
    return [PersonOut.model_validate(p) for p in svc.list_people(session, principal, purpose=purpose,
                                                                  search=search)]


@router.post("/people", response_model=PersonOut, status_code=201)
def create_person(body: PersonCreate, principal: Principal = Depends(editors),
                  session: Session = Depends(get_session)) -> PersonOut:
    data = svc.PersonInput(**body.model_dump())
    return PersonOut.model_validate(svc.create_person(session, principal, data))


@router.get("/people/{person_id}", response_model=PersonOut)
def get_person(person_id: PersonId, purpose: Purpose = svc.DEFAULT_PURPOSE,
               principal: Principal = Depends(readers), session: Session = Depends(get_session)) -> PersonOut:
    return PersonOut.model_validate(svc.get_person(session, principal, person_id, purpose=purpose))


@router.patch("/people/{person_id}", response_model=PersonOut)
def update_person(person_id: PersonId, body: PersonUpdate, principal: Principal = Depends(editors),
                  session: Session = Depends(get_session)) -> PersonOut:
    changes = body.model_dump(exclude_unset=True)
    return PersonOut.model_validate(svc.update_person(session, principal, person_id, changes))


@router.get("/people/{person_id}/orders", response_model=list[OrderOut])
def list_orders(person_id: PersonId, principal: Principal = Depends(readers),
                session: Session = Depends(get_session)) -> list[OrderOut]:
    """Every version of the person's court order, oldest first; the last one is in force."""
    return [OrderOut.model_validate(o) for o in svc.list_orders(session, principal, person_id)]


@router.post("/people/{person_id}/orders", response_model=OrderOut, status_code=201)
def add_order_version(person_id: PersonId, body: OrderCreate, principal: Principal = Depends(editors),
                      session: Session = Depends(get_session)) -> OrderOut:
    data = body.model_dump()
    data["conditions"] = tuple(data["conditions"])
    data["obligations"] = tuple(data["obligations"])
    return OrderOut.model_validate(svc.add_order_version(session, principal, person_id, svc.OrderInput(**data)))


@router.get("/people/{person_id}/zones", response_model=list[ZoneOut])
def list_zones(person_id: PersonId, include_inactive: bool = False, principal: Principal = Depends(readers),
               session: Session = Depends(get_session)) -> list[ZoneOut]:
    zones = svc.list_zones(session, principal, person_id, include_inactive=include_inactive)
    return [ZoneOut.model_validate(z) for z in zones]


def _windows(value: list[object] | None) -> list[object] | None:
    return None if value is None else [w.model_dump() if hasattr(w, "model_dump") else w for w in value]


@router.post("/people/{person_id}/zones", response_model=ZoneOut, status_code=201)
def create_zone(person_id: PersonId, body: ZoneCreate, principal: Principal = Depends(editors),
                session: Session = Depends(get_session)) -> ZoneOut:
    data = svc.ZoneInput(body.code, body.kind, body.shape, _windows(body.schedule), body.grace_s, body.name)  # type: ignore[arg-type]
    return ZoneOut.model_validate(svc.create_zone(session, principal, person_id, data))


@router.put("/people/{person_id}/zones/{zone_id}", response_model=ZoneOut)
def update_zone(person_id: PersonId, zone_id: ZoneId, body: ZoneUpdate, principal: Principal = Depends(editors),
                session: Session = Depends(get_session)) -> ZoneOut:
    data = svc.ZoneInput("", body.kind, body.shape, _windows(body.schedule), body.grace_s, body.name)  # type: ignore[arg-type]
    return ZoneOut.model_validate(svc.update_zone(session, principal, person_id, zone_id, data))


@router.put("/people/{person_id}/zones/{zone_id}/schedule", response_model=ZoneOut)
def set_schedule(person_id: PersonId, zone_id: ZoneId, body: ScheduleIn, principal: Principal = Depends(editors),
                 session: Session = Depends(get_session)) -> ZoneOut:
    """Replace a zone's weekly schedule (``null``: always active)."""
    row = svc.set_zone_schedule(session, principal, person_id, zone_id, _windows(body.schedule))  # type: ignore[arg-type]
    return ZoneOut.model_validate(row)


@router.delete("/people/{person_id}/zones/{zone_id}", response_model=ZoneOut)
def deactivate_zone(person_id: PersonId, zone_id: ZoneId, principal: Principal = Depends(editors),
                    session: Session = Depends(get_session)) -> ZoneOut:
    """Switch a zone off (zones are kept so that old alerts stay explainable)."""
    return ZoneOut.model_validate(svc.deactivate_zone(session, principal, person_id, zone_id))


@router.post("/people/{person_id}/zones/what-if", response_model=WhatIfOut)
def zone_what_if(person_id: PersonId, body: WhatIfIn, principal: Principal = Depends(editors),
                 session: Session = Depends(get_session)) -> WhatIfOut:
    """Replay the last weeks of the person's trail against an edited zone before saving it (nothing is saved)."""
    replaces = None
    if body.replaces_zone_id is not None:
        replaces = next((z.code for z in svc.list_zones(session, principal, person_id, include_inactive=True)
                         if z.id == body.replaces_zone_id), None)
        if replaces is None:
            raise NotVisible(f"zone {body.replaces_zone_id} not found")
    z = body.zone
    data = svc.ZoneInput(replaces or z.code, z.kind, z.shape, _windows(z.schedule), z.grace_s, z.name)  # type: ignore[arg-type]
    result = whatif.what_if(session, principal, person_id, data, replaces_code=replaces, weeks=body.weeks)
    return WhatIfOut.model_validate(result)
