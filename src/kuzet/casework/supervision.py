"""Obligations as they run: reporting appointments and home visits with their outcomes, forced labour hours,
notices of a change of address or job, court-ordered treatment, and case notes.

Every change writes the audit trail. Breaching outcomes become violations through
:func:`kuzet.casework.enforcement.record_violation`. Time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.domain.enums import Category

from .errors import CaseworkError
from .models import Appointment, CaseNote, ChangeNotice, LabourHours, LabourPlacement, Partner, Treatment
from .orders import latest_version, vary_order
from .registration import local_midnight, person_of
from .vocabulary import (
    AbsenceReason,
    AppointmentKind,
    AppointmentOutcome,
    ChangeKind,
    PartnerKind,
    Variation,
    ViolationSource,
)

#: Criminal Code art. 44: forced labour of restricted freedom.
LABOUR_HOURS_PER_YEAR = 100.0
LABOUR_HOURS_PER_DAY = 4.0


def _utc(at: datetime, name: str = "at") -> datetime:
    if at.tzinfo is None:
        raise CaseworkError("must carry a time zone", field=name)
    return at.astimezone(UTC)


# -- appointments ---------------------------------------------------------------------------------------
def schedule_appointment(session: Session, actor: Actor, person_id: int, kind: AppointmentKind | str,
                         scheduled_at: datetime, *, place: str = "", officer_id: int | None = None) -> Appointment:
    try:
        kind = AppointmentKind(kind)
    except ValueError:
        raise CaseworkError(f"unknown appointment kind {kind!r}", field="kind") from None
    person = person_of(session, person_id)
    appt = Appointment(person_id=person.id, kind=kind.value, scheduled_at=_utc(scheduled_at, "scheduled_at"),
                       place=place, officer_id=officer_id if officer_id is not None else person.officer_id)
    session.add(appt)
    session.flush()
    record(session, actor, "create", "appointment", appt.id, person_id=person.id, purpose="supervision",
           detail={"kind": kind.value, "at": appt.scheduled_at.isoformat()})
    return appt


def close_appointment(session: Session, actor: Actor, appointment_id: int, outcome: AppointmentOutcome | str, *,
                      at: datetime, absence_reason: AbsenceReason | str | None = None,
                      note: str = "") -> Appointment:
    """Close an appointment with its outcome (a closed set). An acceptable absence needs its reason; other
    outcomes take none. Only an acceptable absence may be recorded before the appointment's time. A breaching
    outcome records a violation against the order in force at the appointment's time."""
    try:
        outcome = AppointmentOutcome(outcome)
    except ValueError:
        raise CaseworkError(f"unknown outcome {outcome!r} ({', '.join(o.value for o in AppointmentOutcome)})",
                            field="outcome") from None
    appt = session.get(Appointment, appointment_id)
    if appt is None:
        raise CaseworkError(f"unknown appointment {appointment_id}", field="appointment_id")
    if appt.outcome is not None:
        raise CaseworkError(f"appointment {appointment_id} is already closed as {appt.outcome}", field="outcome")
    at = _utc(at)
    reason = ""
    if outcome is AppointmentOutcome.ACCEPTABLE_ABSENCE:
        if not absence_reason:
            raise CaseworkError("an acceptable absence needs its reason (court, employment, medical...)",
                                field="absence_reason")
        try:
            reason = AbsenceReason(absence_reason).value
        except ValueError:
            raise CaseworkError(f"unknown absence reason {absence_reason!r}", field="absence_reason") from None
    else:
        if absence_reason:
            raise CaseworkError(f"only an acceptable absence takes a reason, not {outcome.value}",
                                field="absence_reason")
        if at < appt.scheduled_at:
            raise CaseworkError(f"the appointment is at {appt.scheduled_at.isoformat()}; its outcome cannot be "
                                f"recorded before then", field="at")
    if outcome is AppointmentOutcome.ATTENDED_FAILED_TO_COMPLY and not note.strip():
        raise CaseworkError("say what the person failed to comply with", field="note")
    appt.outcome, appt.absence_reason, appt.note = outcome.value, reason, note
    appt.closed_at, appt.closed_by = at, actor.user_id
    record(session, actor, "update", "appointment", appt.id, person_id=appt.person_id, purpose="supervision",
           detail={"outcome": outcome.value, "absence_reason": reason})
    if outcome.is_breach:
        from .enforcement import record_violation

        record_violation(session, actor, appt.person_id, kind=outcome.value, breach_at=appt.scheduled_at,
                         identified_at=at, source=ViolationSource.APPOINTMENT, appointment_id=appt.id,
                         description=note)
    return appt


def record_check_in(session: Session, actor: Actor, person_id: int, *, at: datetime, place: str = "",
                    note: str = "") -> Appointment:
    """The person reported to the probation office and complied: an office appointment closed at once. The
    first check-in of a person not yet registered as arrived records their arrival (that local day)."""
    from .registration import record_arrival, registration_of

    appt = schedule_appointment(session, actor, person_id, AppointmentKind.OFFICE_REPORT, at, place=place)
    reg = registration_of(session, person_id)
    if reg is not None and reg.arrived_on is None:
        local_day = at.astimezone(ZoneInfo(person_of(session, person_id).timezone)).date()
        if local_day >= reg.released_on:
            record_arrival(session, actor, person_id, local_day)
    return close_appointment(session, actor, appt.id, AppointmentOutcome.ATTENDED_COMPLIED, at=at, note=note)


def add_case_note(session: Session, actor: Actor, person_id: int, text: str, *, at: datetime) -> CaseNote:
    if not text.strip():
        raise CaseworkError("a case note needs text", field="text")
    person = person_of(session, person_id)
    note = CaseNote(person_id=person.id, at=_utc(at), author_id=actor.user_id, text=text.strip())
    session.add(note)
    session.flush()
    record(session, actor, "create", "case_note", note.id, person_id=person.id, purpose="supervision")
    return note


# -- forced labour --------------------------------------------------------------------------------------------
def place_for_labour(session: Session, actor: Actor, person_id: int, partner_id: int, *, starts_on: date,
                     ends_on: date | None = None, site: str = "") -> LabourPlacement:
    """Place a restricted-freedom convict for forced labour with an akimat."""
    person = person_of(session, person_id)
    order = latest_version(session, person.id)
    category = order.category if order is not None else person.category
    if category != Category.RESTRICTED_FREEDOM.value:
        raise CaseworkError(f"forced labour applies to restricted freedom only, not {category}", field="person_id")
    partner = session.get(Partner, partner_id)
    if partner is None or partner.kind != PartnerKind.AKIMAT.value:
        raise CaseworkError(f"partner {partner_id} is not an akimat; forced labour is organised by the akimat",
                            field="partner_id")
    if ends_on is not None and ends_on < starts_on:
        raise CaseworkError("the placement ends before it starts", field="ends_on")
    placement = LabourPlacement(person_id=person.id, partner_id=partner.id, site=site, starts_on=starts_on,
                                ends_on=ends_on)
    session.add(placement)
    session.flush()
    record(session, actor, "create", "labour_placement", placement.id, person_id=person.id, purpose="supervision",
           detail={"partner_id": partner.id})
    return placement


def labour_hours_on(session: Session, person_id: int, day: date) -> float:
    return float(session.execute(select(func.coalesce(func.sum(LabourHours.hours), 0.0)).where(
        LabourHours.person_id == person_id, LabourHours.worked_on == day)).scalar_one())


def labour_hours_in_year(session: Session, person_id: int, year: int) -> float:
    return float(session.execute(select(func.coalesce(func.sum(LabourHours.hours), 0.0)).where(
        LabourHours.person_id == person_id, LabourHours.worked_on >= date(year, 1, 1),
        LabourHours.worked_on <= date(year, 12, 31))).scalar_one())


@dataclass(frozen=True, slots=True)
class LabourBalance:
    year: int
    done_h: float
    owed_h: float = LABOUR_HOURS_PER_YEAR

    @property
    def remaining_h(self) -> float:
        return max(0.0, self.owed_h - self.done_h)


def labour_balance(session: Session, person_id: int, year: int) -> LabourBalance:
    return LabourBalance(year, labour_hours_in_year(session, person_id, year))


def record_labour_hours(session: Session, actor: Actor, placement_id: int, worked_on: date,
                        hours: float) -> LabourHours:
    """Hours worked on one day: at most four a day and 100 in a calendar year (Criminal Code art. 44)."""
    placement = session.get(LabourPlacement, placement_id)
    if placement is None:
        raise CaseworkError(f"unknown labour placement {placement_id}", field="placement_id")
    if not hours > 0:
        raise CaseworkError(f"hours must be more than zero, got {hours}", field="hours")
    if worked_on < placement.starts_on or (placement.ends_on is not None and worked_on > placement.ends_on):
        raise CaseworkError(f"{worked_on} is outside the placement ({placement.starts_on} to "
                            f"{placement.ends_on or 'open'})", field="worked_on")
    day_total = labour_hours_on(session, placement.person_id, worked_on)
    if day_total + hours > LABOUR_HOURS_PER_DAY:
        raise CaseworkError(f"at most {LABOUR_HOURS_PER_DAY:g} hours a day: {day_total:g} already recorded on "
                            f"{worked_on}, {hours:g} more would make {day_total + hours:g}", field="hours")
    year_total = labour_hours_in_year(session, placement.person_id, worked_on.year)
    if year_total + hours > LABOUR_HOURS_PER_YEAR:
        raise CaseworkError(f"at most {LABOUR_HOURS_PER_YEAR:g} hours a year: {year_total:g} already done in "
                            f"{worked_on.year}, {hours:g} more would make {year_total + hours:g}", field="hours")
    row = LabourHours(person_id=placement.person_id, placement_id=placement.id, worked_on=worked_on,
                      hours=float(hours), recorded_by=actor.user_id)
    session.add(row)
    session.flush()
    record(session, actor, "create", "labour_hours", row.id, person_id=placement.person_id, purpose="supervision",
           detail={"worked_on": worked_on.isoformat(), "hours": float(hours)})
    return row


# -- notices of change ------------------------------------------------------------------------------------------
def record_change_notice(session: Session, actor: Actor, person_id: int, kind: ChangeKind | str, *,
                         notified_on: date, changes_on: date, detail: str, new_address: str | None = None,
                         at: datetime) -> ChangeNotice:
    """The person gave notice of a change of address or job. A notice given after the change is recorded and
    becomes a violation; a new address is a new version of the order, in force from the day of the move."""
    try:
        kind = ChangeKind(kind)
    except ValueError:
        raise CaseworkError(f"unknown change {kind!r} (address or job)", field="kind") from None
    person = person_of(session, person_id)
    if kind is ChangeKind.ADDRESS and not (new_address or "").strip():
        raise CaseworkError("give the new address", field="new_address")
    in_time = notified_on <= changes_on
    notice = ChangeNotice(person_id=person.id, kind=kind.value, detail=detail, notified_on=notified_on,
                          changes_on=changes_on, in_time=in_time, recorded_by=actor.user_id)
    if kind is ChangeKind.ADDRESS and new_address:
        current = latest_version(session, person.id)
        conditions = [c for c in (current.conditions if current else []) if not str(c).startswith("address:")]
        order = vary_order(session, actor, person.id, Variation.NEW_ADDRESS,
                           effective_from=max(local_midnight(changes_on, person.timezone),
                                              current.effective_from if current else _utc(at)),
                           changes={"conditions": [*conditions, f"address: {new_address.strip()}"]})
        notice.order_id = order.id
        person.address = new_address.strip()
    session.add(notice)
    session.flush()
    record(session, actor, "create", "change_notice", notice.id, person_id=person.id, purpose="supervision",
           detail={"kind": kind.value, "in_time": in_time})
    if not in_time:
        from .enforcement import record_violation

        record_violation(session, actor, person.id, kind=f"{kind.value}_change_without_notice",
                         breach_at=local_midnight(changes_on, person.timezone), identified_at=_utc(at),
                         source=ViolationSource.OFFICER, description=detail)
    return notice


# -- treatment -------------------------------------------------------------------------------------------------
TREATMENT_STATUSES = ("ordered", "in_progress", "completed", "interrupted")


def order_treatment(session: Session, actor: Actor, person_id: int, *, kind: str, provider: str,
                    starts_on: date, ends_on: date | None = None) -> Treatment:
    if not kind.strip():
        raise CaseworkError("name the treatment", field="kind")
    person = person_of(session, person_id)
    row = Treatment(person_id=person.id, kind=kind.strip(), provider=provider, starts_on=starts_on, ends_on=ends_on)
    session.add(row)
    session.flush()
    record(session, actor, "create", "treatment", row.id, person_id=person.id, purpose="supervision")
    return row


def update_treatment(session: Session, actor: Actor, treatment_id: int, status: str, note: str = "") -> Treatment:
    if status not in TREATMENT_STATUSES:
        raise CaseworkError(f"status is one of {', '.join(TREATMENT_STATUSES)}", field="status")
    row = session.get(Treatment, treatment_id)
    if row is None:
        raise CaseworkError(f"unknown treatment {treatment_id}", field="treatment_id")
    row.status, row.note = status, note
    record(session, actor, "update", "treatment", row.id, person_id=row.person_id, purpose="supervision",
           detail={"status": status})
    return row

