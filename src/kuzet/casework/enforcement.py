"""Violations and the legal steps after them: written warning, extension of probation, submission to court,
the court's decision (DOMAIN.md sections 1 and 9).

The alert workflow calls :func:`record_violation_from_alert`, :func:`issue_written_warning`,
:func:`extend_probation`, :func:`submit_to_court` and :func:`record_court_decision` by these names. Each
violation is tied to the order version in force when the breach happened. A submission to replace the
sentence needs an earlier written warning (the person must have been warned before they can be found to
evade maliciously). Nothing here reads the clock when a time is given; ``at=None`` means now.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.domain.enums import Category
from kuzet.store.models import AlertRecord

from .errors import CaseworkError, NoOrderInForce
from .models import CourtDecision, CourtSubmission, ProbationExtension, Violation, WrittenWarning
from .orders import latest_version, order_in_force, vary_order
from .registration import local_midnight, person_of
from .vocabulary import DecisionOutcome, EndReason, SubmissionKind, Variation, ViolationSource, ViolationStatus

#: Criminal Code art. 64: probation may be extended by at most one year in total.
MAX_EXTENSION_MONTHS = 12


def _now(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise CaseworkError("must carry a time zone", field="at")
    return at.astimezone(UTC)


def _order_id_at(session: Session, person_id: int, at: datetime) -> int | None:
    try:
        return order_in_force(session, person_id, at).id
    except NoOrderInForce:
        return None


def record_violation(session: Session, actor: Actor, person_id: int, *, kind: str, breach_at: datetime,
                     identified_at: datetime | None = None, source: ViolationSource | str = ViolationSource.OFFICER,
                     alert_id: int | None = None, appointment_id: int | None = None, description: str = "",
                     reasonable_excuse: bool = False, authorised_absence: bool = False,
                     out_entire_period: bool = False) -> Violation:
    """Record a breach with its legal facts, tied to the order version in force at ``breach_at``."""
    if not kind.strip():
        raise CaseworkError("name what was breached", field="kind")
    try:
        source = ViolationSource(source)
    except ValueError:
        raise CaseworkError(f"unknown source {source!r}", field="source") from None
    person = person_of(session, person_id)
    breach = _now(breach_at)
    identified = _now(identified_at)
    if identified < breach:
        raise CaseworkError("a breach cannot be identified before it happened", field="identified_at")
    violation = Violation(person_id=person.id, order_id=_order_id_at(session, person.id, breach), alert_id=alert_id,
                          appointment_id=appointment_id, source=source.value, kind=kind.strip(), breach_at=breach,
                          identified_at=identified, reasonable_excuse=reasonable_excuse,
                          authorised_absence=authorised_absence, out_entire_period=out_entire_period,
                          description=description,
                          status=(ViolationStatus.EXCUSED if reasonable_excuse or authorised_absence
                                  else ViolationStatus.OPEN).value,
                          recorded_by=actor.user_id)
    session.add(violation)
    session.flush()
    record(session, actor, "create", "violation", violation.id, person_id=person.id, purpose="enforcement",
           detail={"kind": violation.kind, "source": source.value, "order_id": violation.order_id,
                   "alert_id": alert_id})
    return violation


def record_violation_from_alert(session: Session, actor: Actor, alert_id: int, *, identified_at: datetime | None = None,
                                description: str = "", reasonable_excuse: bool = False,
                                authorised_absence: bool = False, out_entire_period: bool = False) -> Violation:
    """The violation an alert shows (one per alert: calling again returns the same violation).

    Its order is the version in force when the alert's episode started, whatever has been varied since.
    """
    existing = session.execute(select(Violation).where(Violation.alert_id == alert_id)).scalar_one_or_none()
    if existing is not None:
        return existing
    alert = session.get(AlertRecord, alert_id)
    if alert is None:
        raise CaseworkError(f"unknown alert {alert_id}", field="alert_id")
    if alert.person_id is None:
        raise CaseworkError(f"alert {alert_id} is not attributed to a person", field="alert_id")
    text = description or f"{alert.type}" + (f" ({alert.target})" if alert.target else "")
    return record_violation(session, actor, alert.person_id, kind=alert.type, breach_at=alert.start,
                            identified_at=identified_at or max(alert.raised_at, alert.start),
                            source=ViolationSource.ALERT, alert_id=alert.id, description=text,
                            reasonable_excuse=reasonable_excuse, authorised_absence=authorised_absence,
                            out_entire_period=out_entire_period)


def get_violation(session: Session, violation_id: int) -> Violation:
    violation = session.get(Violation, violation_id)
    if violation is None:
        raise CaseworkError(f"unknown violation {violation_id}", field="violation_id")
    return violation


def _number(prefix: str, at: datetime, row_id: int) -> str:
    return f"{prefix}-{at.year}-{row_id:05d}"


def issue_written_warning(session: Session, actor: Actor, violation_id: int, *, at: datetime | None = None,
                          acknowledged: bool = True) -> WrittenWarning:
    """A written warning for a violation (one per violation; an excused violation gets none)."""
    violation = get_violation(session, violation_id)
    if violation.status == ViolationStatus.EXCUSED.value:
        raise CaseworkError(f"violation {violation_id} was excused; no warning", field="violation_id")
    if session.execute(select(WrittenWarning.id).where(WrittenWarning.violation_id == violation.id)).first():
        raise CaseworkError(f"violation {violation_id} already has a written warning", field="violation_id")
    when = _now(at)
    if when < violation.breach_at:
        raise CaseworkError("a warning cannot precede the breach", field="at")
    warning = WrittenWarning(person_id=violation.person_id, violation_id=violation.id, number="pending",
                             issued_at=when, issued_by=actor.user_id, acknowledged_at=when if acknowledged else None)
    session.add(warning)
    session.flush()
    warning.number = _number("WW", when, warning.id)
    if violation.status == ViolationStatus.OPEN.value:
        violation.status = ViolationStatus.WARNED.value
        violation.authority_notified_at = violation.authority_notified_at or when
    record(session, actor, "create", "written_warning", warning.id, person_id=violation.person_id,
           purpose="enforcement", detail={"violation_id": violation.id, "number": warning.number})
    return warning


def warnings_of(session: Session, person_id: int) -> Sequence[WrittenWarning]:
    return session.execute(select(WrittenWarning).where(WrittenWarning.person_id == person_id)
                           .order_by(WrittenWarning.issued_at)).scalars().all()


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def extend_probation(session: Session, actor: Actor, person_id: int, months: int, *,
                     violation_id: int | None = None, decision_id: int | None = None,
                     at: datetime | None = None) -> ProbationExtension:
    """Extend the probation period by ``months`` (at most a year in total): a new order version with the
    new end date, in force from ``at``."""
    when = _now(at)
    order = latest_version(session, person_id)
    if order is None or order.end_date is None:
        raise CaseworkError(f"person {person_id} has no order with an end date to extend", field="person_id")
    if order.category not in (Category.SUSPENDED_SENTENCE.value, Category.PAROLE.value,
                              Category.RESTRICTED_FREEDOM.value):
        raise CaseworkError(f"category {order.category} has no probation period", field="person_id")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise CaseworkError(f"an extension is 1 to {MAX_EXTENSION_MONTHS} months, got {months}", field="months")
    already = int(session.execute(select(func.coalesce(func.sum(ProbationExtension.months), 0))
                                  .where(ProbationExtension.person_id == person_id)).scalar_one())
    if already + months > MAX_EXTENSION_MONTHS:
        raise CaseworkError(f"probation may be extended by at most {MAX_EXTENSION_MONTHS} months in total: "
                            f"{already} already, {months} more would make {already + months}", field="months")
    if violation_id is not None:
        get_violation(session, violation_id)
    previous_end = order.end_date
    new_end = add_months(previous_end, months)
    version = vary_order(session, actor, person_id, Variation.EXTENSION, effective_from=max(when, order.effective_from),
                         changes={"end_date": new_end})
    ext = ProbationExtension(person_id=person_id, violation_id=violation_id, decision_id=decision_id, months=months,
                             previous_end=previous_end, new_end=new_end, order_id=version.id,
                             created_by=actor.user_id)
    session.add(ext)
    session.flush()
    record(session, actor, "create", "probation_extension", ext.id, person_id=person_id, purpose="enforcement",
           detail={"months": months, "new_end": new_end.isoformat(), "order_version": version.version})
    return ext


def submit_to_court(session: Session, actor: Actor, violation_id: int, *,
                    kind: SubmissionKind | str = SubmissionKind.REPLACE_SENTENCE, court: str = "", grounds: str = "",
                    at: datetime | None = None) -> CourtSubmission:
    """A draft submission to court about a violation. Asking to replace the sentence (or revoke parole) needs
    a written warning issued to the person before."""
    try:
        kind = SubmissionKind(kind)
    except ValueError:
        raise CaseworkError(f"unknown submission kind {kind!r}", field="kind") from None
    violation = get_violation(session, violation_id)
    if violation.status == ViolationStatus.EXCUSED.value:
        raise CaseworkError(f"violation {violation_id} was excused; nothing to submit", field="violation_id")
    when = _now(at)
    warnings = [w for w in warnings_of(session, violation.person_id) if w.issued_at <= when]
    if kind in (SubmissionKind.REPLACE_SENTENCE, SubmissionKind.REVOKE_PAROLE) and not warnings:
        raise CaseworkError("the person has no written warning yet: issue a written warning before asking the "
                            "court to replace the sentence", field="violation_id")
    order = latest_version(session, violation.person_id)
    submission = CourtSubmission(person_id=violation.person_id, violation_id=violation.id, number="pending",
                                 kind=kind.value, court=court or (order.court if order else ""),
                                 grounds=grounds or violation.description, status="draft", created_at=when,
                                 created_by=actor.user_id, warnings=[w.id for w in warnings])
    session.add(submission)
    session.flush()
    submission.number = _number("SC", when, submission.id)
    violation.status = ViolationStatus.SUBMITTED.value
    violation.authority_notified_at = violation.authority_notified_at or when
    record(session, actor, "create", "court_submission", submission.id, person_id=violation.person_id,
           purpose="enforcement", detail={"violation_id": violation.id, "kind": kind.value})
    return submission


def file_submission(session: Session, actor: Actor, submission_id: int, *,
                    at: datetime | None = None) -> CourtSubmission:
    """The draft is signed and sent to the court."""
    submission = _submission(session, submission_id)
    if submission.status != "draft":
        raise CaseworkError(f"submission {submission.number} is {submission.status}, not a draft", field="status")
    submission.status, submission.submitted_at = "submitted", _now(at)
    record(session, actor, "update", "court_submission", submission.id, person_id=submission.person_id,
           purpose="enforcement", detail={"status": "submitted"})
    return submission


def _submission(session: Session, submission_id: int) -> CourtSubmission:
    submission = session.get(CourtSubmission, submission_id)
    if submission is None:
        raise CaseworkError(f"unknown submission {submission_id}", field="submission_id")
    return submission


def record_court_decision(session: Session, actor: Actor, submission_id: int, outcome: DecisionOutcome | str, *,
                          decided_on: date, note: str = "", extension_months: int | None = None,
                          obligations: Sequence[str] = (), at: datetime | None = None) -> CourtDecision:
    """The court's decision on a filed submission, and what follows from it: a granted replacement or
    revocation ends supervision (the device is recovered); an extension or new obligations are a new order
    version; a refusal changes nothing."""
    try:
        outcome = DecisionOutcome(outcome)
    except ValueError:
        raise CaseworkError(f"unknown decision {outcome!r} ({', '.join(o.value for o in DecisionOutcome)})",
                            field="outcome") from None
    submission = _submission(session, submission_id)
    if submission.status == "draft":
        raise CaseworkError(f"submission {submission.number} has not been filed with the court", field="status")
    if submission.status == "decided":
        raise CaseworkError(f"submission {submission.number} is already decided", field="status")
    if submission.submitted_at is not None and decided_on < submission.submitted_at.date():
        raise CaseworkError("the court cannot decide before the submission was filed", field="decided_on")
    if outcome is DecisionOutcome.EXTENDED and extension_months is None:
        raise CaseworkError("give the months of the extension the court decided", field="extension_months")
    if outcome is DecisionOutcome.OBLIGATIONS_ADDED and not obligations:
        raise CaseworkError("list the obligations the court added", field="obligations")
    when = _now(at)
    person = person_of(session, submission.person_id)
    decision = CourtDecision(submission_id=submission.id, person_id=person.id, decided_on=decided_on,
                             outcome=outcome.value, note=note, recorded_by=actor.user_id, recorded_at=when)
    session.add(decision)
    session.flush()
    effective = max(local_midnight(decided_on, person.timezone), when) if decided_on > when.date() else when
    if outcome is DecisionOutcome.EXTENDED and extension_months is not None:
        ext = extend_probation(session, actor, person.id, extension_months, violation_id=submission.violation_id,
                               decision_id=decision.id, at=effective)
        decision.order_id = ext.order_id
    elif outcome is DecisionOutcome.OBLIGATIONS_ADDED:
        current = latest_version(session, person.id)
        version = vary_order(session, actor, person.id, Variation.OBLIGATIONS_CHANGED,
                             effective_from=max(effective, current.effective_from) if current else effective,
                             changes={"obligations": [*(current.obligations if current else []), *obligations]})
        decision.order_id = version.id
    elif outcome is DecisionOutcome.GRANTED and submission.kind in (SubmissionKind.REPLACE_SENTENCE.value,
                                                                     SubmissionKind.REVOKE_PAROLE.value):
        from .ending import end_supervision

        end = end_supervision(session, actor, person.id, EndReason.REVOCATION, at=effective,
                              note=f"court decision of {decided_on} on {submission.number}")
        decision.order_id = end.order_id
    submission.status = "decided"
    if submission.violation_id is not None:
        get_violation(session, submission.violation_id).status = ViolationStatus.DECIDED.value
    record(session, actor, "create", "court_decision", decision.id, person_id=person.id, purpose="enforcement",
           detail={"submission": submission.number, "outcome": outcome.value, "order_id": decision.order_id})
    return decision
