"""Response-time targets, the escalation tree, escalation on a missed target, and the shift handover.

:func:`run_escalations` is driven by the clock it is given (``now``), never by the wall clock, so tests and
replays control time. Level *n* of the tree is told when an alert is still not acknowledged ``n`` target
periods after it was raised (and likewise for the closure target, counted from the acknowledgement). Each
step is recorded once (``alert_escalations`` is unique on alert, reason and level), so running it again,
or from two processes, never tells anyone twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, alerts_scope
from kuzet.audit import SYSTEM, record
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role, Severity
from kuzet.domain.errors import DomainError
from kuzet.store.models import AlertAction, AlertRecord, Person, User

from .models import EscalationEvent, EscalationLevel, HandoverNote, ResponseTarget

if TYPE_CHECKING:
    from .notifications import Transports
from .vocabulary import (
    CONFIG_ROLES,
    DEFAULT_TARGETS,
    ESCALATION_HORIZON,
    OPEN_STATUSES,
    WORKER_ROLES,
    EscalationReason,
)


@dataclass(frozen=True, slots=True)
class Target:
    acknowledge_within: timedelta
    close_within: timedelta | None


class TargetBook:
    """Every configured target, loaded once: the target of each (severity, region) without a query each."""

    def __init__(self, session: Session) -> None:
        self._rows = {(r.region_id, r.severity): r for r in session.execute(select(ResponseTarget)).scalars()}

    def get(self, severity: str, region_id: int | None) -> Target:
        row = self._rows.get((region_id, severity)) if region_id is not None else None
        row = row or self._rows.get((None, severity))
        if row is not None:
            return Target(timedelta(seconds=row.acknowledge_within_s),
                          None if row.close_within_s is None else timedelta(seconds=row.close_within_s))
        try:
            ack, close = DEFAULT_TARGETS[Severity(severity)]
        except ValueError:
            ack, close = DEFAULT_TARGETS[Severity.HIGH]
        return Target(ack, close)


def response_target(session: Session, severity: str, region_id: int | None) -> Target:
    """The region's own target for ``severity``, else the national one, else the built-in default."""
    return TargetBook(session).get(severity, region_id)


def set_response_target(session: Session, principal: Principal, severity: Severity | str, *,
                        acknowledge_within: timedelta, close_within: timedelta | None = None,
                        region_id: int | None = None) -> ResponseTarget:
    """Set the target for a severity (a region's own, or the national one with ``region_id=None``)."""
    _check_config(principal, region_id)
    try:
        severity = Severity(severity)
    except ValueError:
        raise DomainError(f"unknown severity {severity!r}", field="severity") from None
    if acknowledge_within <= timedelta(0):
        raise DomainError("must be a positive duration", field="acknowledge_within")
    if close_within is not None and close_within < acknowledge_within:
        raise DomainError("the closure target cannot be shorter than the acknowledgement target",
                          field="close_within")
    row = session.execute(select(ResponseTarget).where(
        ResponseTarget.severity == severity.value,
        ResponseTarget.region_id == region_id if region_id is not None else ResponseTarget.region_id.is_(None))
    ).scalar_one_or_none()
    if row is None:
        row = ResponseTarget(region_id=region_id, severity=severity.value, acknowledge_within_s=0.0)
        session.add(row)
    row.acknowledge_within_s = acknowledge_within.total_seconds()
    row.close_within_s = None if close_within is None else close_within.total_seconds()
    record(session, principal.actor, "set_response_target", "alert_response_target", severity.value,
           detail={"region_id": region_id, "acknowledge_within_s": row.acknowledge_within_s,
                   "close_within_s": row.close_within_s})
    session.flush()
    return row


def _check_config(principal: Principal, region_id: int | None) -> None:
    if principal.role not in CONFIG_ROLES:
        raise AccessDenied(f"role {principal.role.value} may not configure the alert workflow")
    if principal.role is Role.SUPERVISOR and (region_id is None or region_id != principal.region_id):
        raise AccessDenied("a supervisor may configure their own region only")


def acknowledge_due(session: Session, alert: AlertRecord, book: TargetBook | None = None) -> datetime:
    book = book or TargetBook(session)
    return alert.raised_at + book.get(alert.severity, alert.region_id).acknowledge_within


def close_due(session: Session, alert: AlertRecord) -> datetime | None:
    within = response_target(session, alert.severity, alert.region_id).close_within
    return None if within is None else alert.raised_at + within


# -- the tree ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LevelSpec:
    """One level as configured: a user, a role, or both."""

    level: int
    user_id: int | None = None
    role: Role | None = None


def set_escalation_tree(session: Session, principal: Principal, levels: Sequence[LevelSpec], *,
                        region_id: int | None, unit_id: int | None = None) -> list[EscalationLevel]:
    """Replace the tree of a region (or of one unit in it) with ``levels``."""
    _check_config(principal, region_id)
    for spec in levels:
        if spec.level < 1:
            raise DomainError(f"levels start at 1, got {spec.level}", field="level")
        if spec.user_id is None and spec.role is None:
            raise DomainError(f"level {spec.level} names neither a user nor a role", field="level")
    old = session.execute(select(EscalationLevel).where(
        EscalationLevel.region_id == region_id if region_id is not None else EscalationLevel.region_id.is_(None),
        EscalationLevel.unit_id == unit_id if unit_id is not None else EscalationLevel.unit_id.is_(None))
    ).scalars().all()
    for row in old:
        session.delete(row)
    session.flush()
    rows = [EscalationLevel(region_id=region_id, unit_id=unit_id, level=s.level, user_id=s.user_id,
                            role=None if s.role is None else Role(s.role).value) for s in levels]
    session.add_all(rows)
    record(session, principal.actor, "set_escalation_tree", "alert_escalation_tree",
           f"{region_id or ''}/{unit_id or ''}",
           detail={"levels": [{"level": s.level, "user_id": s.user_id, "role": s.role and Role(s.role).value}
                              for s in levels]})
    session.flush()
    return rows


def escalation_tree(session: Session, region_id: int | None, unit_id: int | None) -> list[EscalationLevel]:
    """The tree that applies: the unit's own if it has one, else the region's, else the national one."""
    for where in (
        and_(EscalationLevel.unit_id == unit_id) if unit_id is not None else None,
        and_(EscalationLevel.region_id == region_id, EscalationLevel.unit_id.is_(None))
        if region_id is not None else None,
        and_(EscalationLevel.region_id.is_(None), EscalationLevel.unit_id.is_(None)),
    ):
        if where is None:
            continue
        rows = list(session.execute(select(EscalationLevel).where(where)
                                    .order_by(EscalationLevel.level, EscalationLevel.id)).scalars())
        if rows:
            return rows
    return []


def recipients_at(session: Session, tree: Sequence[EscalationLevel], level: int,
                  region_id: int | None) -> list[User]:
    """The active users named at ``level`` (by id, or by role within the alert's region)."""
    users: dict[int, User] = {}
    for row in tree:
        if row.level != level:
            continue
        if row.user_id is not None:
            user = session.get(User, row.user_id)
            if user is not None and user.active:
                users[user.id] = user
        if row.role is not None:
            stmt = select(User).where(User.role == row.role, User.active.is_(True))
            if region_id is not None and row.role != Role.ADMINISTRATOR:
                stmt = stmt.where(User.region_id == region_id)
            for user in session.execute(stmt.order_by(User.id)).scalars():
                users[user.id] = user
    return list(users.values())


# -- running it ----------------------------------------------------------------------------------------------
def _missed_levels(start: datetime, period: timedelta, now: datetime) -> int:
    if period <= timedelta(0) or now < start + period:
        return 0
    return int((now - start) / period)


def run_escalations(session: Session, now: datetime, *, transports: Transports | None = None
                    ) -> list[EscalationEvent]:
    """Escalate every open alert whose acknowledgement (or closure) target has been missed by ``now``.

    Returns the escalation steps taken now (none for steps already taken). Each step is recorded on the
    alert, in the audit trail, and as notifications (e-mail and SMS) to the users of that tree level.
    """
    if now.tzinfo is None:
        raise DomainError("now must carry a time zone", field="now")
    now = now.astimezone(UTC)
    from .notifications import queue_escalation
    from .workflow import sync_incidents

    sync_incidents(session, now=now, transports=transports)
    taken: list[EscalationEvent] = []
    alerts = session.execute(select(AlertRecord).where(AlertRecord.status.in_(OPEN_STATUSES),
                                                       AlertRecord.raised_at >= now - ESCALATION_HORIZON)
                             .order_by(AlertRecord.raised_at, AlertRecord.id)).scalars().all()
    done = {(alert_id, reason, level) for alert_id, reason, level in session.execute(
        select(EscalationEvent.alert_id, EscalationEvent.reason, EscalationEvent.level)
        .where(EscalationEvent.alert_id.in_([a.id for a in alerts])))} if alerts else set()
    book = TargetBook(session)
    for alert in alerts:
        target = book.get(alert.severity, alert.region_id)
        steps: list[tuple[EscalationReason, int, datetime]] = []
        if alert.acknowledged_at is None:
            missed = _missed_levels(alert.raised_at, target.acknowledge_within, now)
            steps += [(EscalationReason.ACKNOWLEDGEMENT_MISSED, n, alert.raised_at + target.acknowledge_within * n)
                      for n in range(1, missed + 1)]
        elif target.close_within is not None:
            missed = _missed_levels(alert.raised_at, target.close_within, now)
            steps += [(EscalationReason.CLOSURE_MISSED, n, alert.raised_at + target.close_within * n)
                      for n in range(1, missed + 1)]
        if not steps:
            continue
        unit_id = None
        if alert.person_id is not None:
            person = session.get(Person, alert.person_id)
            unit_id = person.unit_id if person else None
        tree = escalation_tree(session, alert.region_id, unit_id)
        depth = max((row.level for row in tree), default=1)
        for reason, level, due in steps:
            if level > depth or (alert.id, reason.value, level) in done:
                continue
            users = recipients_at(session, tree, level, alert.region_id)
            event = EscalationEvent(alert_id=alert.id, reason=reason.value, level=level, due_at=due, at=now,
                                    recipients=[u.id for u in users])
            try:
                with session.begin_nested():
                    session.add(event)
                    session.flush()
            except IntegrityError:  # another process took this step first
                continue
            session.add(AlertAction(alert_id=alert.id, user_id=None, kind="escalate", at=now,
                                    note=f"{reason.value}: level {level}",
                                    detail={"level": level, "reason": reason.value, "due_at": due.isoformat(),
                                            "recipients": [u.username for u in users]}))
            record(session, SYSTEM, "escalate", "alert", alert.id, person_id=alert.person_id,
                   purpose="alert workflow", detail={"level": level, "reason": reason.value,
                                                     "recipients": [u.id for u in users]}, at=now)
            queue_escalation(session, alert, event, users, now, transports)
            taken.append(event)
    session.flush()
    return taken


# -- shift handover ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Handover:
    """What the incoming shift needs: what is open, what is late, what happened, and the notes left."""

    shift_start: datetime
    now: datetime
    open_alerts: Sequence[AlertRecord]
    overdue: Sequence[AlertRecord]
    escalated: Sequence[EscalationEvent]
    closed: Sequence[AlertRecord]
    raised: int
    notes: Sequence[HandoverNote]
    usernames: dict[int, str]


def _check_worker(principal: Principal) -> None:
    if principal.role not in WORKER_ROLES:
        raise AccessDenied(f"role {principal.role.value} may not see the alert queue")


def handover_view(session: Session, principal: Principal, now: datetime, *,
                  shift: timedelta = timedelta(hours=8)) -> Handover:
    """The handover for the shift ending at ``now`` (the last ``shift`` hours) in the caller's scope."""
    from kuzet.audit.reads import record_read

    _check_worker(principal)
    now = now.astimezone(UTC)
    start = now - shift
    scope = alerts_scope(principal)
    open_alerts = list(session.execute(select(AlertRecord).where(scope, AlertRecord.status.in_(OPEN_STATUSES))
                                       .order_by(AlertRecord.raised_at)).scalars())
    book = TargetBook(session)
    overdue = [a for a in open_alerts if a.acknowledged_at is None and now >= acknowledge_due(session, a, book)]
    closed = list(session.execute(select(AlertRecord).where(scope, AlertRecord.closed_at >= start,
                                                            AlertRecord.closed_at <= now)
                                  .order_by(AlertRecord.closed_at)).scalars())
    raised = len(session.execute(select(AlertRecord.id).where(scope, AlertRecord.raised_at >= start,
                                                               AlertRecord.raised_at <= now)).all())
    escalated = list(session.execute(select(EscalationEvent).join(AlertRecord,
                                                                  AlertRecord.id == EscalationEvent.alert_id)
                                     .where(scope, EscalationEvent.at >= start, EscalationEvent.at <= now)
                                     .order_by(EscalationEvent.at)).scalars())
    note_stmt = select(HandoverNote).where(HandoverNote.at <= now).order_by(HandoverNote.at.desc()).limit(10)
    if principal.role is not Role.ADMINISTRATOR:
        note_stmt = note_stmt.where(or_(HandoverNote.region_id == principal.region_id,
                                        HandoverNote.region_id.is_(None)))
    notes = list(session.execute(note_stmt).scalars())
    ids = {n.author_id for n in notes if n.author_id} | {a.assignee_id for a in open_alerts if a.assignee_id}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) \
        if ids else {}
    record_read(session, principal.actor, "alert_handover", principal.region_id or "", purpose="shift handover",
                detail={"open": [a.id for a in open_alerts][:1000]})
    return Handover(start, now, open_alerts, overdue, escalated, closed, raised, notes, names)


def write_handover_note(session: Session, principal: Principal, note: str, now: datetime, *,
                        shift: timedelta = timedelta(hours=8)) -> HandoverNote:
    """Leave a note for the next shift; the open alerts at this moment are listed with it."""
    _check_worker(principal)
    note = note.strip()
    if not note:
        raise DomainError("a handover note cannot be empty", field="note")
    now = now.astimezone(UTC)
    open_ids = list(session.execute(select(AlertRecord.id).where(alerts_scope(principal),
                                                                  AlertRecord.status.in_(OPEN_STATUSES))
                                    ).scalars())
    row = HandoverNote(region_id=principal.region_id, author_id=principal.user_id, at=now,
                       shift_start=now - shift, shift_end=now, note=note[:8000], open_alerts=open_ids)
    session.add(row)
    session.flush()
    record(session, principal.actor, "handover_note", "alert_handover", row.id, purpose="shift handover",
           detail={"open_alerts": len(open_ids)}, at=now)
    return row
