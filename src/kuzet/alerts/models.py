"""The alert workflow's own tables: incidents, response-time targets, the escalation tree and its events,
shift handover notes, authorised absences, notification subscriptions and the delivery log.

The core ``alerts`` and ``alert_actions`` tables are not changed here: anything the workflow needs beside an
alert lives in a table keyed by the alert's id. These tables never hold an alert's facts (start, end, type,
evidence); those are the engine's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.store.models import Base, utcnow


class Incident(Base):
    """Related alerts of one person, grouped so that an operator works them as one case."""

    __tablename__ = "alert_incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True, nullable=True)
    subject_code: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True, nullable=True)
    #: ``open`` while any of its alerts is open, then ``closed``.
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: The highest severity among its alerts.
    severity: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column()
    #: Event time of the latest alert start in the incident (for grouping the next one).
    last_activity: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class IncidentAlert(Base):
    """Which incident an alert belongs to (one incident per alert)."""

    __tablename__ = "alert_incident_links"
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("alert_incidents.id"), index=True)


class ResponseTarget(Base):
    """How fast an alert of a severity must be acknowledged (and closed); a region may set its own."""

    __tablename__ = "alert_response_targets"
    __table_args__ = (UniqueConstraint("region_id", "severity", name="uq_alert_response_targets_region_severity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``None``: the national default.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    acknowledge_within_s: Mapped[float] = mapped_column(Float)
    close_within_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class EscalationLevel(Base):
    """One level of an escalation tree: who is told when a target is missed, for a region or a unit.

    A level names a user, or a role (every active user with that role in the region), or both.
    """

    __tablename__ = "alert_escalation_levels"
    __table_args__ = (Index("ix_alert_escalation_levels_scope", "region_id", "unit_id", "level"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    #: A unit's own tree takes precedence over its region's.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    level: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)


class EscalationEvent(Base):
    """A missed response target and who the alert was escalated to."""

    __tablename__ = "alert_escalations"
    __table_args__ = (UniqueConstraint("alert_id", "reason", "level", name="uq_alert_escalations_step"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    #: ``acknowledgement_missed`` or ``closure_missed``.
    reason: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column()
    at: Mapped[datetime] = mapped_column()
    #: User ids told at this level.
    recipients: Mapped[list[Any]] = mapped_column(default=list)


class HandoverNote(Base):
    """A note from the outgoing shift of a region's monitoring centre to the incoming one."""

    __tablename__ = "alert_handover_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True, nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column()
    shift_start: Mapped[datetime] = mapped_column()
    shift_end: Mapped[datetime] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    #: Open alert ids at handover time (what the next shift inherits).
    open_alerts: Mapped[list[Any]] = mapped_column(default=list)


class AuthorisedAbsence(Base):
    """A time-limited exception granted by an officer: the person's inclusion zones do not apply in it."""

    __tablename__ = "alert_absences"
    __table_args__ = (Index("ix_alert_absences_person_time", "person_id", "start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    #: ``hospital``, ``court``, ``work_shift``, ``probation_office``, ``family_emergency``, ``other``.
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class Subscription(Base):
    """Who is told about which alerts, by which channel (``email``, ``sms`` or ``webhook``)."""

    __tablename__ = "alert_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(16))
    #: An e-mail address, a phone number or a webhook URL.
    address: Mapped[str] = mapped_column(String(500))
    #: ``None``: every region.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    #: ``None``: every person.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    min_severity: Mapped[str] = mapped_column(String(16), default="low")
    #: Alert types to send (empty: all).
    alert_types: Mapped[list[Any]] = mapped_column(default=list)
    #: Workflow events to send: ``raised``, ``escalated``, ``closed`` (empty: ``raised``).
    events: Mapped[list[Any]] = mapped_column(default=list)
    #: Webhook signing secret; empty uses the service-wide ``webhook_secret``.
    secret: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One message to one recipient on one channel, its attempts and outcome.

    ``idempotency_key`` (alert, recipient, channel, event) is unique: the same message is never queued, so
    never sent, twice.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True, nullable=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("alert_subscriptions.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload_hash: Mapped[str] = mapped_column(String(64))
    #: ``pending`` (to send, or to retry), ``sent``, ``failed`` (given up).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
