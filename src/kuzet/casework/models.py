"""Casework's own tables: registration, appointments and home visits, forced labour, notices of change,
treatment, violations and the legal steps after them, the individual programme, partners and their quotas,
case notes and the end of supervision.

The core ``people`` and ``court_orders`` tables are not changed here: a variation of an order is a new
``court_orders`` row written by :mod:`kuzet.casework.orders`; everything else lives in the tables below,
keyed by the core ids. These tables never hold locations: a partner may read some of them, never a trail.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.store.models import Base, utcnow


# -- registration --------------------------------------------------------------------------------------------
class Registration(Base):
    """A person's registration with the probation service and its deadlines (DOMAIN.md section 2).

    ``due_on`` is three working days after ``released_on``; ``search_from`` is two weeks after it.
    """

    __tablename__ = "casework_registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    #: The day of release or of the sentence taking effect: the clock for both deadlines starts here.
    released_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    search_from: Mapped[date] = mapped_column(Date)
    #: The day the person came to the probation office (``None`` while they have not arrived).
    arrived_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    search_started_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    court_informed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- appointments, home visits, case notes -------------------------------------------------------------------
class Appointment(Base):
    """A reporting appointment at the probation office, a home visit or a programme meeting."""

    __tablename__ = "casework_appointments"
    __table_args__ = (Index("ix_casework_appointments_person_at", "person_id", "scheduled_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    #: ``office_report``, ``home_visit`` or ``programme``.
    kind: Mapped[str] = mapped_column(String(24))
    scheduled_at: Mapped[datetime] = mapped_column()
    place: Mapped[str] = mapped_column(String(300), default="")
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    #: One of :class:`kuzet.casework.vocabulary.AppointmentOutcome`; ``None`` while open.
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: For an acceptable absence: ``court``, ``employment``, ``medical``...
    absence_reason: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseNote(Base):
    __tablename__ = "casework_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text)


# -- obligations as they run ------------------------------------------------------------------------------
class LabourPlacement(Base):
    """Forced labour for restricted freedom, organised by an akimat (Criminal Code art. 44)."""

    __tablename__ = "casework_labour_placements"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("casework_partners.id"), index=True)
    site: Mapped[str] = mapped_column(String(300), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabourHours(Base):
    """Hours of forced labour worked on one day (at most four a day, 100 a year: enforced by the service)."""

    __tablename__ = "casework_labour_hours"
    __table_args__ = (Index("ix_casework_labour_hours_person_day", "person_id", "worked_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    placement_id: Mapped[int] = mapped_column(ForeignKey("casework_labour_placements.id"))
    worked_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(Float)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeNotice(Base):
    """Notice of a change of address or job, given before the change (an obligation of the person)."""

    __tablename__ = "casework_change_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    #: ``address`` or ``job``.
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    notified_on: Mapped[date] = mapped_column(Date)
    changes_on: Mapped[date] = mapped_column(Date)
    #: ``True`` when the notice came before the change; a late notice is recorded and flagged.
    in_time: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The order version written for a change of address (the address is a condition of the order).
    order_id: Mapped[int | None] = mapped_column(ForeignKey("court_orders.id"), nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Treatment(Base):
    """Treatment the court ordered (for alcohol or drug dependence and the like) and its attendance."""

    __tablename__ = "casework_treatments"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: ``ordered``, ``in_progress``, ``completed``, ``interrupted``.
    status: Mapped[str] = mapped_column(String(16), default="ordered")
    note: Mapped[str] = mapped_column(Text, default="")


# -- violations and the legal steps ---------------------------------------------------------------------------
class Violation(Base):
    """A breach of the order, from an alert or found by an officer, with the legal facts (DOMAIN.md 9)."""

    __tablename__ = "casework_violations"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    #: The order version in force when the breach happened.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("court_orders.id"), nullable=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), unique=True, nullable=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("casework_appointments.id"), nullable=True)
    #: ``alert``, ``appointment`` or ``officer``.
    source: Mapped[str] = mapped_column(String(16))
    #: What was breached: ``curfew_absence``, ``failed_to_attend``, ``labour_not_done``...
    kind: Mapped[str] = mapped_column(String(40))
    breach_at: Mapped[datetime] = mapped_column()
    identified_at: Mapped[datetime] = mapped_column()
    authority_notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reasonable_excuse: Mapped[bool] = mapped_column(Boolean, default=False)
    authorised_absence: Mapped[bool] = mapped_column(Boolean, default=False)
    out_entire_period: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    #: ``open``, ``warned``, ``submitted``, ``decided``, ``excused``.
    status: Mapped[str] = mapped_column(String(16), default="open")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WrittenWarning(Base):
    """A written warning about replacing the sentence with a harsher one (the first enforcement step)."""

    __tablename__ = "casework_warnings"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("casework_violations.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    issued_at: Mapped[datetime] = mapped_column()
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    #: When the person signed that they read it (``None`` when they refused or were absent).
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ProbationExtension(Base):
    """An extension of the probation period, with the order version that carries the new end date."""

    __tablename__ = "casework_extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("casework_violations.id"), nullable=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("casework_court_decisions.id"), nullable=True)
    months: Mapped[int] = mapped_column(Integer)
    previous_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    new_end: Mapped[date] = mapped_column(Date)
    order_id: Mapped[int] = mapped_column(ForeignKey("court_orders.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CourtSubmission(Base):
    """A submission (представление) to court: replace the sentence, extend probation, add obligations..."""

    __tablename__ = "casework_court_submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("casework_violations.id"), nullable=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    #: One of :class:`kuzet.casework.vocabulary.SubmissionKind`.
    kind: Mapped[str] = mapped_column(String(32))
    court: Mapped[str] = mapped_column(String(200), default="")
    grounds: Mapped[str] = mapped_column(Text, default="")
    #: ``draft`` until sent, then ``submitted``, then ``decided``.
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    #: The ids of the earlier warnings the submission relies on.
    warnings: Mapped[list[Any]] = mapped_column(default=list)


class CourtDecision(Base):
    __tablename__ = "casework_court_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("casework_court_submissions.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    decided_on: Mapped[date] = mapped_column(Date)
    #: One of :class:`kuzet.casework.vocabulary.DecisionOutcome`.
    outcome: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    #: The order version the decision produced (extension, new obligations, revocation), if any.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("court_orders.id"), nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- partners --------------------------------------------------------------------------------------------------
class Partner(Base):
    """An akimat (job quotas, forced labour) or an NGO (services under state social order contracts)."""

    __tablename__ = "casework_partners"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``akimat`` or ``ngo``.
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    contact: Mapped[str] = mapped_column(String(300), default="")
    #: The services the partner delivers (need areas: ``employment``, ``housing``...).
    services: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PartnerContract(Base):
    """An NGO's state social order contract: what it delivers, for how many people, for how long."""

    __tablename__ = "casework_partner_contracts"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("casework_partners.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    services: Mapped[list[Any]] = mapped_column(default=list)
    places: Mapped[int] = mapped_column(Integer, default=0)
    amount_kzt: Mapped[float] = mapped_column(Float, default=0.0)


class JobQuota(Base):
    """Jobs an akimat reserves for people on the probation list in a year (a count from a share of jobs)."""

    __tablename__ = "casework_job_quotas"
    __table_args__ = (UniqueConstraint("partner_id", "year", name="uq_casework_job_quotas_partner_year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("casework_partners.id"))
    year: Mapped[int] = mapped_column(Integer)
    share_pct: Mapped[float] = mapped_column(Float, default=0.0)
    reserved: Mapped[int] = mapped_column(Integer)


class Vacancy(Base):
    __tablename__ = "casework_vacancies"
    id: Mapped[int] = mapped_column(primary_key=True)
    quota_id: Mapped[int] = mapped_column(ForeignKey("casework_job_quotas.id"), index=True)
    employer: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(200))
    #: ``open``, ``filled``, ``withdrawn``.
    status: Mapped[str] = mapped_column(String(16), default="open")


class JobPlacement(Base):
    """A person placed in a reserved vacancy (counts against the akimat's quota)."""

    __tablename__ = "casework_job_placements"
    id: Mapped[int] = mapped_column(primary_key=True)
    vacancy_id: Mapped[int] = mapped_column(ForeignKey("casework_vacancies.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)


# -- the individual programme of social and legal assistance ---------------------------------------------------
class ProgrammeNeed(Base):
    """An assessed need: education, employment, medical, housing, documents, psychological help."""

    __tablename__ = "casework_needs"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    area: Mapped[str] = mapped_column(String(24))
    assessment: Mapped[str] = mapped_column(Text, default="")
    assessed_on: Mapped[date] = mapped_column(Date)


class ProgrammeGoal(Base):
    __tablename__ = "casework_goals"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    need_id: Mapped[int | None] = mapped_column(ForeignKey("casework_needs.id"), nullable=True)
    area: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    #: The partner responsible (an NGO or akimat), if any; that partner sees this goal.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("casework_partners.id"), index=True, nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: ``open``, ``achieved``, ``not_achieved``, ``dropped``.
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProgrammeAction(Base):
    __tablename__ = "casework_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("casework_goals.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("casework_partners.id"), nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    done_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


# -- end of supervision ------------------------------------------------------------------------------------------
class SupervisionEnd(Base):
    __tablename__ = "casework_supervision_ends"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    #: ``expiry``, ``early_release`` or ``revocation``.
    reason: Mapped[str] = mapped_column(String(16))
    ended_at: Mapped[datetime] = mapped_column()
    order_id: Mapped[int] = mapped_column(ForeignKey("court_orders.id"))
    #: Serials of the devices recovered from the person.
    devices_recovered: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
