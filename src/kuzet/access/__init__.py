"""Who may see what: role and region/unit scoping rules, as plain functions every capability calls.

This package never authenticates anyone (see :mod:`kuzet.auth`) and never writes the audit trail itself.
"""

from .policy import (
    AccessDenied,
    NotVisible,
    alerts_scope,
    can_change_plans,
    can_read_locations,
    can_read_people,
    check_person_access,
    people_scope,
    require_location_access,
)

__all__ = [
    "AccessDenied",
    "NotVisible",
    "alerts_scope",
    "can_change_plans",
    "can_read_locations",
    "can_read_people",
    "check_person_access",
    "people_scope",
    "require_location_access",
]
