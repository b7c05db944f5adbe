"""The alert workflow: the regional queue, claim, acknowledge, act, close with an outcome, and incidents.

Every alert must end with a decision (an :class:`Outcome` and, for a critical alert, a note). These
functions are the one action layer the API, the UI and the CLI call; each checks the caller's scope with
:func:`kuzet.access.alerts_scope`, records an :class:`~kuzet.store.models.AlertAction` and writes the audit
trail in the caller's transaction. They never change an alert's facts (type, start, end, evidence): those
belong to the engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, NotVisible, alerts_scope
from kuzet.audit import SYSTEM, Actor, record
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.errors import DomainError
from kuzet.store.models import AlertAction, AlertRecord, Assignment, Device, Person, User

from .models import Delivery, EscalationEvent, Incident, IncidentAlert

if TYPE_CHECKING:
    from .notifications import Transports
from .vocabulary import (
    DISPATCH_HORIZON,
    INCIDENT_WINDOW,
    OPEN_STATUSES,
    WORKER_ROLES,
    ActionKind,
    AlertStatus,
    CaseworkStep,
    Outcome,
    severity_rank,
)

_SEVERITY_ORDER = case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=AlertRecord.severity, else_=4)
NOTE_LIMIT = 4000


def _utc(now: datetime | None) -> datetime:
    value = now or datetime.now(UTC)
    if value.tzinfo is None:
        raise DomainError("times must carry a time zone", field="now")
    return value.astimezone(UTC)


def _check_worker(principal: Principal) -> None:
    if principal.role not in WORKER_ROLES:
        raise AccessDenied(f"role {principal.role.value} may not work alerts")


def get_alert(session: Session, principal: Principal, alert_id: int) -> AlertRecord:
    """The alert if it is in the caller's scope; :class:`NotVisible` otherwise."""
    _check_worker(principal)
    alert = session.execute(select(AlertRecord).where(AlertRecord.id == alert_id, alerts_scope(principal))
                            ).scalar_one_or_none()
    if alert is None:
        raise NotVisible(f"alert {alert_id} not found")
    return alert


# -- incidents ---------------------------------------------------------------------------------------------
def incident_of(session: Session, alert_id: int) -> Incident | None:
    return session.execute(select(Incident).join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
                           .where(IncidentAlert.alert_id == alert_id)).scalar_one_or_none()


@dataclass
class IncidentCache:
    """What :func:`group_into_incident` reads, loaded once for a batch of alerts raised in one transaction
    (the monitor's), and kept up to date as the batch is grouped: which of the alerts already have an
    incident, and the open incidents of their people. Only valid inside that transaction."""

    linked: dict[int, Incident]
    open_incidents: dict[tuple[str, Any], list[Incident]]

    @classmethod
    def load(cls, session: Session, alerts: Sequence[AlertRecord]) -> IncidentCache:
        ids = [a.id for a in alerts]
        linked = dict(session.execute(select(IncidentAlert.alert_id, Incident)
                                      .join(Incident, Incident.id == IncidentAlert.incident_id)
                                      .where(IncidentAlert.alert_id.in_(ids))).all()) if ids else {}
        people = {a.person_id for a in alerts if a.person_id is not None}
        codes = {a.subject_code for a in alerts if a.person_id is None}
        open_incidents: dict[tuple[str, Any], list[Incident]] = {_who(a): [] for a in alerts}
        if people or codes:
            for incident in session.execute(select(Incident).where(
                    Incident.status == "open", Incident.person_id.in_(people) | Incident.subject_code.in_(codes)
            ).order_by(Incident.last_activity.desc(), Incident.id)).scalars():
                # The same candidates as the single-alert query: by person, or by subject code without one.
                if incident.person_id in people:
                    open_incidents[("person", incident.person_id)].append(incident)
                if incident.subject_code in codes:
                    open_incidents[("subject", incident.subject_code)].append(incident)
        return cls(linked, open_incidents)


def _who(alert: AlertRecord) -> tuple[str, Any]:
    return ("person", alert.person_id) if alert.person_id is not None else ("subject", alert.subject_code)


def group_into_incident(session: Session, alert: AlertRecord, *, cache: IncidentCache | None = None) -> Incident:
    """Put ``alert`` into its person's open incident (one whose last alert started within
    :data:`INCIDENT_WINDOW` before it, or that has an open alert still going on or ended within that window),
    or open a new incident. Idempotent. ``cache``: see :class:`IncidentCache`."""
    existing = cache.linked.get(alert.id) if cache is not None else incident_of(session, alert.id)
    if existing is not None:
        return existing
    if cache is not None and _who(alert) in cache.open_incidents:
        candidates: Sequence[Incident] = cache.open_incidents[_who(alert)]
    else:
        who = (Incident.person_id == alert.person_id if alert.person_id is not None
               else Incident.subject_code == alert.subject_code)
        candidates = session.execute(select(Incident).where(who, Incident.status == "open")
                                     .order_by(Incident.last_activity.desc())).scalars().all()
    chosen: Incident | None = None
    for incident in candidates:
        if alert.start - INCIDENT_WINDOW <= incident.last_activity or _has_live_alert(
                session, incident.id, alert.start - INCIDENT_WINDOW):
            chosen = incident
            break
    if chosen is None:
        chosen = Incident(person_id=alert.person_id, subject_code=alert.subject_code, region_id=alert.region_id,
                          status="open", severity=alert.severity, opened_at=alert.raised_at,
                          last_activity=alert.start)
        session.add(chosen)
        session.flush()
    else:
        if severity_rank(alert.severity) > severity_rank(chosen.severity):
            chosen.severity = alert.severity
        chosen.last_activity = max(chosen.last_activity, alert.start)
        if alert.status != AlertStatus.CLOSED:
            chosen.status, chosen.closed_at = "open", None
    session.add(IncidentAlert(alert_id=alert.id, incident_id=chosen.id))
    session.flush()
    if cache is not None:
        cache.linked[alert.id] = chosen
        group = cache.open_incidents.setdefault(_who(alert), [])
        if chosen not in group:
            group.append(chosen)
        group.sort(key=lambda i: i.last_activity, reverse=True)  # as the query orders them
    return chosen


def _has_live_alert(session: Session, incident_id: int, since: datetime) -> bool:
    """Whether the incident has an open alert that is still going on, or ended after ``since``."""
    return session.execute(select(AlertRecord.id).join(IncidentAlert, IncidentAlert.alert_id == AlertRecord.id)
                           .where(IncidentAlert.incident_id == incident_id, AlertRecord.status.in_(OPEN_STATUSES),
                                  (AlertRecord.end.is_(None)) | (AlertRecord.end >= since)).limit(1)
                           ).first() is not None


def _has_open_alert(session: Session, incident_id: int) -> bool:
    return session.execute(select(AlertRecord.id).join(IncidentAlert, IncidentAlert.alert_id == AlertRecord.id)
                           .where(IncidentAlert.incident_id == incident_id,
                                  AlertRecord.status.in_(OPEN_STATUSES)).limit(1)).first() is not None


def sync_incidents(session: Session, *, now: datetime | None = None, transports: Transports | None = None,
                   limit: int = 5000) -> int:
    """Take up every open alert the raise hook has not seen (no incident yet): group it into its incident and,
    when ``now`` is given and it was raised within :data:`DISPATCH_HORIZON` before, queue its notifications
    (the protected person's warning first). A safety net for alerts written without
    :func:`kuzet.alerts.notifications.on_alert_raised`; old alerts (an import) are grouped, never announced."""
    from .notifications import queue_raised

    loose = session.execute(
        select(AlertRecord).outerjoin(IncidentAlert, IncidentAlert.alert_id == AlertRecord.id)
        .where(IncidentAlert.alert_id.is_(None), AlertRecord.status.in_(OPEN_STATUSES))
        .order_by(AlertRecord.start, AlertRecord.id).limit(limit)).scalars().all()
    for alert in loose:
        group_into_incident(session, alert)
        if now is not None and alert.raised_at >= now - DISPATCH_HORIZON:
            queue_raised(session, alert, now, transports)
    return len(loose)


def incident_alerts(session: Session, incident_id: int) -> list[AlertRecord]:
    return list(session.execute(select(AlertRecord).join(IncidentAlert, IncidentAlert.alert_id == AlertRecord.id)
                                .where(IncidentAlert.incident_id == incident_id)
                                .order_by(AlertRecord.start, AlertRecord.id)).scalars())


def _settle_incident(session: Session, alert: AlertRecord, at: datetime) -> None:
    incident = incident_of(session, alert.id)
    if incident is not None and not _has_open_alert(session, incident.id):
        incident.status, incident.closed_at = "closed", at


# -- the queue ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueueItem:
    """One open alert as the queue shows it."""

    alert: AlertRecord
    person_name: str
    incident_id: int | None
    incident_size: int
    acknowledge_due: datetime
    overdue: bool
    escalation_level: int
    assignee: str

    @property
    def age(self) -> timedelta:
        return self.acknowledge_due - self.alert.raised_at


def alert_queue(session: Session, principal: Principal, now: datetime | None = None, *,
                region_id: int | None = None, limit: int = 500) -> list[QueueItem]:
    """Open alerts in the caller's scope (optionally one region), most severe first, then oldest first."""
    from .escalation import TargetBook, acknowledge_due  # the escalation module imports this one

    _check_worker(principal)
    at = _utc(now)
    sync_incidents(session, now=at)
    stmt = select(AlertRecord).where(alerts_scope(principal), AlertRecord.status.in_(OPEN_STATUSES))
    if region_id is not None:
        stmt = stmt.where(AlertRecord.region_id == region_id)
    stmt = stmt.order_by(_SEVERITY_ORDER, AlertRecord.raised_at, AlertRecord.id).limit(max(1, min(limit, 2000)))
    alerts = list(session.execute(stmt).scalars())
    ids = [a.id for a in alerts]
    links = dict(session.execute(select(IncidentAlert.alert_id, IncidentAlert.incident_id)
                                 .where(IncidentAlert.alert_id.in_(ids))).all()) if ids else {}
    sizes: dict[int, int] = {}
    if links:
        for (incident_id,) in session.execute(select(IncidentAlert.incident_id)
                                              .where(IncidentAlert.incident_id.in_(set(links.values())))).all():
            sizes[incident_id] = sizes.get(incident_id, 0) + 1
    levels: dict[int, int] = {}
    if ids:
        for alert_id, level in session.execute(select(EscalationEvent.alert_id, EscalationEvent.level)
                                               .where(EscalationEvent.alert_id.in_(ids))):
            levels[alert_id] = max(levels.get(alert_id, 0), level)
    names = _person_names(session, {a.person_id for a in alerts if a.person_id is not None})
    users = _usernames(session, {a.assignee_id for a in alerts if a.assignee_id is not None})
    items = []
    book = TargetBook(session)
    for a in alerts:
        due = acknowledge_due(session, a, book)
        items.append(QueueItem(a, names.get(a.person_id or -1, a.subject_code), links.get(a.id),
                               sizes.get(links.get(a.id, -1), 1), due,
                               a.acknowledged_at is None and at >= due, levels.get(a.id, 0),
                               users.get(a.assignee_id or -1, "")))
    record_read(session, principal.actor, "alert_queue", region_id or "", purpose="alert triage",
                detail={"alerts": ids[:1000]})
    return items


def _person_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {p.id: p.display_name for p in session.execute(select(Person).where(Person.id.in_(ids))).scalars()}


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


# -- working an alert ------------------------------------------------------------------------------------------
def _act_record(session: Session, principal: Principal | None, alert: AlertRecord, kind: str, note: str,
                at: datetime, detail: dict[str, Any] | None = None, *, actor: Actor | None = None) -> AlertAction:
    action = AlertAction(alert_id=alert.id, user_id=principal.user_id if principal else None, kind=kind,
                         note=note[:NOTE_LIMIT], at=at, detail=detail or {})
    session.add(action)
    who = actor or (principal.actor if principal else SYSTEM)
    record(session, who, kind[:32], "alert", alert.id, person_id=alert.person_id, purpose="alert workflow",
           detail={"note": note[:200], **(detail or {})}, at=at)
    session.flush()
    return action


def _open(alert: AlertRecord) -> None:
    if alert.status == AlertStatus.CLOSED:
        raise DomainError(f"alert {alert.id} is already closed ({alert.outcome})", field="status")


def claim_alert(session: Session, principal: Principal, alert_id: int, *, now: datetime | None = None,
                take_over: bool = False) -> AlertRecord:
    """Take an alert to work on. Another operator's claim stands unless ``take_over`` (recorded as such)."""
    alert = get_alert(session, principal, alert_id)
    _open(alert)
    at = _utc(now)
    previous = alert.assignee_id
    if previous not in (None, principal.user_id) and not take_over:
        raise DomainError(f"alert {alert_id} is already claimed by user {previous}", field="assignee")
    alert.assignee_id = principal.user_id
    if alert.status == AlertStatus.NEW:
        alert.status = AlertStatus.CLAIMED
    _act_record(session, principal, alert, "claim", "", at,
                {"previous_assignee": previous} if previous not in (None, principal.user_id) else {})
    return alert


def acknowledge_alert(session: Session, principal: Principal, alert_id: int, note: str = "", *,
                      now: datetime | None = None) -> AlertRecord:
    """Confirm the alert is seen and being handled (stops the acknowledgement clock). Claims it if unclaimed."""
    alert = get_alert(session, principal, alert_id)
    _open(alert)
    at = _utc(now)
    if alert.assignee_id is None:
        alert.assignee_id = principal.user_id
    if alert.acknowledged_at is None:
        alert.acknowledged_at = at
    alert.status = AlertStatus.ACKNOWLEDGED
    _act_record(session, principal, alert, "acknowledge", note, at)
    return alert


def record_action(session: Session, principal: Principal, alert_id: int, kind: ActionKind | str, note: str = "",
                  *, now: datetime | None = None, detail: dict[str, Any] | None = None) -> AlertAction:
    """Record what was done (call, message, locate now, visit, police, protected person).

    ``locate_now`` queues a location request to the person's device through the gateway; ``inform_protected_
    person`` also sends the protected person an SMS warning when their phone is known.
    """
    try:
        kind = ActionKind(kind)
    except ValueError:
        raise DomainError(f"unknown action {kind!r} ({', '.join(k.value for k in ActionKind)})",
                          field="kind") from None
    alert = get_alert(session, principal, alert_id)
    _open(alert)
    at = _utc(now)
    if alert.assignee_id is None:
        alert.assignee_id = principal.user_id
        alert.status = AlertStatus.CLAIMED if alert.status == AlertStatus.NEW else alert.status
    extra = dict(detail or {})
    if kind is ActionKind.LOCATE_NOW or kind is ActionKind.MESSAGE_DEVICE:
        extra.update(_device_command(session, alert, kind, note, at))
    if kind is ActionKind.INFORM_PROTECTED_PERSON:
        from .notifications import warn_protected_person

        queued = warn_protected_person(session, alert, at, note=note, event_suffix=f"operator-{at.isoformat()}")
        extra["warning_deliveries"] = [d.id for d in queued]
    return _act_record(session, principal, alert, kind.value, note, at, extra)


def device_of(session: Session, alert: AlertRecord) -> str | None:
    """The serial the alert came from, else the person's fitted device."""
    if alert.device:
        return alert.device
    if alert.person_id is None:
        return None
    return session.execute(select(Device.serial).join(Assignment, Assignment.device_id == Device.id)
                           .where(Assignment.person_id == alert.person_id, Assignment.removed_at.is_(None))
                           .order_by(Assignment.id)).scalars().first()


def _device_command(session: Session, alert: AlertRecord, kind: ActionKind, note: str, at: datetime
                    ) -> dict[str, Any]:
    serial = device_of(session, alert)
    if serial is None:
        return {"command": "not queued: no device fitted"}
    try:
        gateway = importlib.import_module("kuzet.gateway")
        queue_command = gateway.queue_command
    except (ImportError, AttributeError):
        return {"device": serial, "command": "not queued: the gateway is not installed"}
    command_kind = "locate" if kind is ActionKind.LOCATE_NOW else "message"
    payload = None if kind is ActionKind.LOCATE_NOW else {"text": note[:160]}
    try:
        queued = queue_command(session, serial, command_kind, payload, now=at)
    except (LookupError, ValueError) as exc:
        return {"device": serial, "command": f"not queued: {exc}"}
    command_id = getattr(queued, "id", queued)
    return {"device": serial, "command": "queued", "command_id": command_id if isinstance(command_id, int | str)
            else str(command_id)}


def close_alert(session: Session, principal: Principal, alert_id: int, outcome: Outcome | str, note: str = "", *,
                now: datetime | None = None) -> AlertRecord:
    """Close with a decision. A critical alert cannot be closed without a note saying why."""
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise DomainError(f"unknown outcome {outcome!r} ({', '.join(o.value for o in Outcome)})",
                          field="outcome") from None
    alert = get_alert(session, principal, alert_id)
    _open(alert)
    note = note.strip()
    if alert.severity == "critical" and not note:
        raise DomainError("a critical alert cannot be closed without a note", field="note")
    at = _utc(now)
    alert.status = AlertStatus.CLOSED
    alert.outcome = outcome.value
    alert.outcome_note = note[:NOTE_LIMIT]
    alert.closed_at = at
    alert.assignee_id = alert.assignee_id or principal.user_id
    if alert.acknowledged_at is None:  # closing is also the acknowledgement
        alert.acknowledged_at = at
    _act_record(session, principal, alert, "close", note, at, {"outcome": outcome.value})
    _settle_incident(session, alert, at)
    from .notifications import queue_event

    queue_event(session, alert, "closed", at)
    return alert


def close_incident(session: Session, principal: Principal, incident_id: int, outcome: Outcome | str,
                   note: str = "", *, now: datetime | None = None) -> list[AlertRecord]:
    """Close every open alert of an incident with the same decision and note."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotVisible(f"incident {incident_id} not found")
    closed = []
    for alert in incident_alerts(session, incident_id):
        if alert.status != AlertStatus.CLOSED:
            closed.append(close_alert(session, principal, alert.id, outcome, note, now=now))
    return closed


# -- detail ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlertDetail:
    alert: AlertRecord
    person_name: str
    actions: Sequence[AlertAction]
    incident: Incident | None
    related: Sequence[AlertRecord]
    escalations: Sequence[EscalationEvent]
    acknowledge_due: datetime
    close_due: datetime | None
    device: str | None
    usernames: dict[int, str]
    deliveries: Sequence[Delivery] = ()


def alert_detail(session: Session, principal: Principal, alert_id: int, *, purpose: str = "alert workflow"
                 ) -> AlertDetail:
    from .escalation import acknowledge_due, close_due

    alert = get_alert(session, principal, alert_id)
    incident = incident_of(session, alert.id)
    if incident is None and alert.status != AlertStatus.CLOSED:
        incident = group_into_incident(session, alert)
    related = [a for a in incident_alerts(session, incident.id) if a.id != alert.id] if incident else []
    escalations = session.execute(select(EscalationEvent).where(EscalationEvent.alert_id == alert.id)
                                  .order_by(EscalationEvent.due_at, EscalationEvent.id)).scalars().all()
    actions = session.execute(select(AlertAction).where(AlertAction.alert_id == alert.id)
                              .order_by(AlertAction.at, AlertAction.id)).scalars().all()
    person = session.get(Person, alert.person_id) if alert.person_id is not None else None
    user_ids = {a.user_id for a in actions if a.user_id is not None} | (
        {alert.assignee_id} if alert.assignee_id else set())
    record_read(session, principal.actor, "alert", alert.id, person_id=alert.person_id, purpose=purpose)
    return AlertDetail(alert, person.display_name if person else alert.subject_code, actions, incident, related,
                       escalations, acknowledge_due(session, alert), close_due(session, alert),
                       device_of(session, alert), _usernames(session, user_ids),
                       session.execute(select(Delivery).where(Delivery.alert_id == alert.id)
                                       .order_by(Delivery.id)).scalars().all())


# -- casework --------------------------------------------------------------------------------------------------
def escalate_to_casework(session: Session, principal: Principal, alert_id: int, step: CaseworkStep | str,
                         note: str = "", *, now: datetime | None = None) -> dict[str, Any]:
    """Turn a confirmed violation into a written warning or a draft submission to court (casework's records).

    The alert must be closed as ``violation_confirmed``. Returns what casework created (kind and id).
    """
    try:
        step = CaseworkStep(step)
    except ValueError:
        raise DomainError(f"unknown casework step {step!r} ({', '.join(s.value for s in CaseworkStep)})",
                          field="step") from None
    alert = get_alert(session, principal, alert_id)
    if alert.outcome != Outcome.VIOLATION_CONFIRMED:
        raise DomainError(f"alert {alert_id} must be closed as a confirmed violation first", field="outcome")
    at = _utc(now)
    from kuzet import casework  # casework owns violations, warnings and submissions

    violation = casework.record_violation_from_alert(session, principal.actor, alert.id, identified_at=at)
    created: Any
    if step is CaseworkStep.WRITTEN_WARNING:
        created = casework.issue_written_warning(session, principal.actor, violation.id, at=at)
    else:
        created = casework.submit_to_court(session, principal.actor, violation.id, at=at,
                                           grounds=note.strip() or violation.description)
    violation_id = violation.id
    result = {"step": step.value, "violation_id": violation_id, "record_id": created.id,
              "number": getattr(created, "number", "")}
    _act_record(session, principal, alert, f"casework_{step.value}", note, at, result)
    return result
