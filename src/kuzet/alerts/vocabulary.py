"""Closed sets of the alert workflow, in the monitoring centre's own words.

Pure values: no I/O here.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from kuzet.domain.enums import Role, Severity


class AlertStatus(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


OPEN_STATUSES: tuple[str, ...] = (AlertStatus.NEW, AlertStatus.CLAIMED, AlertStatus.ACKNOWLEDGED)


class Outcome(StrEnum):
    """How an alert ended: every alert must end with one of these decisions."""

    VIOLATION_CONFIRMED = "violation_confirmed"
    TECHNICAL_FAULT = "technical_fault"
    FALSE_ALARM = "false_alarm"
    AUTHORISED = "authorised"


class ActionKind(StrEnum):
    """What an operator did about an alert."""

    CALL_PERSON = "call_person"
    MESSAGE_DEVICE = "message_device"
    LOCATE_NOW = "locate_now"
    VISIT = "visit"
    INFORM_POLICE = "inform_police"
    INFORM_PROTECTED_PERSON = "inform_protected_person"


class CaseworkStep(StrEnum):
    """What a confirmed violation can become in casework."""

    WRITTEN_WARNING = "written_warning"
    COURT_SUBMISSION = "court_submission"


class AbsenceReason(StrEnum):
    HOSPITAL = "hospital"
    COURT = "court"
    WORK_SHIFT = "work_shift"
    PROBATION_OFFICE = "probation_office"
    FAMILY_EMERGENCY = "family_emergency"
    OTHER = "other"


class EscalationReason(StrEnum):
    ACKNOWLEDGEMENT_MISSED = "acknowledgement_missed"
    CLOSURE_MISSED = "closure_missed"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class NotificationEvent(StrEnum):
    RAISED = "raised"
    ESCALATED = "escalated"
    CLOSED = "closed"
    PROXIMITY_WARNING = "proximity_warning"


#: Roles that work alerts (each within the scope :func:`kuzet.access.alerts_scope` gives it).
WORKER_ROLES: tuple[Role, ...] = (Role.OPERATOR, Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
#: Roles that may grant or revoke an authorised absence.
ABSENCE_ROLES: tuple[Role, ...] = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
#: Roles that configure targets, the escalation tree and subscriptions.
CONFIG_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMINISTRATOR)

#: Default response-time targets: (acknowledge within, close within), for regions without their own.
DEFAULT_TARGETS: dict[Severity, tuple[timedelta, timedelta | None]] = {
    Severity.CRITICAL: (timedelta(minutes=5), timedelta(hours=1)),
    Severity.HIGH: (timedelta(minutes=15), timedelta(hours=4)),
    Severity.MEDIUM: (timedelta(hours=1), timedelta(hours=24)),
    Severity.LOW: (timedelta(hours=4), timedelta(hours=72)),
}

#: An alert joins its person's open incident when it starts within this time of the incident's last alert.
INCIDENT_WINDOW = timedelta(hours=2)


#: An alert found without having been announced (written without the raise hook) is announced only if it was
#: raised this recently; older ones (an import of historical data) are grouped but never announced.
DISPATCH_HORIZON = timedelta(hours=1)
#: Escalation looks at alerts raised this recently: a live alert climbs the whole tree long before; an older
#: one that has never escalated came from an import of historical data and is not escalated now.
ESCALATION_HORIZON = timedelta(days=2)


def severity_rank(value: str) -> int:
    try:
        return Severity(value).rank
    except ValueError:
        return -1
