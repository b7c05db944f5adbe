"""Scoping rules (DOMAIN.md section 8): an officer sees their own caseload, a supervisor their unit (or
region), an operator their region, an administrator everything; auditors, partners, analysts and police
liaisons see no person's record or location through these paths (they have their own, narrower services).

Every function here is pure policy over a :class:`~kuzet.auth.Principal`: it builds where-clauses and
answers yes/no. It never writes the audit trail and never trusts an id passed by a caller without
checking it against the scope.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.store.models import AlertRecord, Person

#: Roles that work with individual people's records.
PEOPLE_ROLES: frozenset[Role] = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR})
#: Roles that may see locations (current positions and trails) of people in their scope.
LOCATION_ROLES: frozenset[Role] = PEOPLE_ROLES
#: Roles that may change orders, zones and schedules.
PLAN_EDITORS: frozenset[Role] = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR})


class AccessDenied(PermissionError):
    """The principal's role may never do this (HTTP 403)."""


class NotVisible(LookupError):
    """The record does not exist or is outside the principal's scope (HTTP 404: existence is not revealed)."""


def can_read_people(principal: Principal) -> bool:
    return principal.role in PEOPLE_ROLES


def can_read_locations(principal: Principal) -> bool:
    """Whether this principal may see any location at all. Never true for a partner, analyst or auditor."""
    return principal.role in LOCATION_ROLES


def can_change_plans(principal: Principal) -> bool:
    return principal.role in PLAN_EDITORS


def people_scope(principal: Principal) -> ColumnElement[bool]:
    """A where-clause on :class:`Person` selecting exactly the people this principal may see."""
    role = principal.role
    if role is Role.ADMINISTRATOR:
        return true()
    if role is Role.OFFICER:
        return Person.officer_id == principal.user_id
    if role is Role.SUPERVISOR:
        if principal.unit_id is not None:
            return Person.unit_id == principal.unit_id
        if principal.region_id is not None:
            return Person.region_id == principal.region_id
        return false()
    if role is Role.OPERATOR:
        return Person.region_id == principal.region_id if principal.region_id is not None else false()
    return false()


def alerts_scope(principal: Principal) -> ColumnElement[bool]:
    """A where-clause on :class:`AlertRecord`: alerts of people in scope (operators: their whole region)."""
    role = principal.role
    if role is Role.ADMINISTRATOR:
        return true()
    if role is Role.OPERATOR:
        return AlertRecord.region_id == principal.region_id if principal.region_id is not None else false()
    if role in (Role.OFFICER, Role.SUPERVISOR):
        return AlertRecord.person_id.in_(select(Person.id).where(people_scope(principal)))
    return false()


def check_person_access(session: Session, principal: Principal, person_id: int) -> Person:
    """Return the person if in scope; raise :class:`AccessDenied` for a role without access to people,
    :class:`NotVisible` when the person does not exist or belongs to another caseload, unit or region."""
    if not can_read_people(principal):
        raise AccessDenied(f"role {principal.role.value} may not read person records")
    person = session.execute(
        select(Person).where(Person.id == person_id, people_scope(principal))
    ).scalar_one_or_none()
    if person is None:
        raise NotVisible(f"person {person_id} not found")
    return person


def require_location_access(session: Session, principal: Principal, person_id: int) -> Person:
    """Like :func:`check_person_access`, and additionally refuse roles that may never see locations."""
    if not can_read_locations(principal):
        raise AccessDenied(f"role {principal.role.value} may not see locations")
    return check_person_access(session, principal, person_id)
