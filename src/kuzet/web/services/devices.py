"""Devices and assignments as the officer application reads them (the devices capability changes them)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, can_read_people, check_person_access, people_scope
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.store.models import Assignment, Device, Person, Unit


def list_devices(session: Session, principal: Principal) -> Sequence[Device]:
    """Devices of the caller's scope: fitted to people in scope, or kept by units of their region."""
    if not can_read_people(principal):
        raise AccessDenied(f"role {principal.role.value} may not list devices")
    stmt = select(Device).order_by(Device.serial)
    if principal.role is not Role.ADMINISTRATOR:
        fitted = (select(Assignment.device_id).join(Person, Person.id == Assignment.person_id)
                  .where(Assignment.removed_at.is_(None), people_scope(principal)))
        if principal.role is Role.OFFICER:
            stmt = stmt.where(Device.id.in_(fitted))
        else:
            units = select(Unit.id).where(Unit.region_id == principal.region_id)
            stmt = stmt.where(Device.id.in_(fitted) | Device.unit_id.in_(units))
    return list(session.execute(stmt).scalars())


def person_assignments(session: Session, principal: Principal, person_id: int) -> Sequence[Assignment]:
    person = check_person_access(session, principal, person_id)
    record_read(session, principal.actor, "assignment", "", person_id=person.id, purpose="case supervision")
    return list(session.execute(select(Assignment).where(Assignment.person_id == person.id)
                                .order_by(Assignment.fitted_at.desc())).scalars())
