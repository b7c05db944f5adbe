"""Core tables. Capability packages add their own models on the same :class:`Base`.

Times are UTC (:class:`UTCDateTime`). Personal data lives here; reads of it go through services that
write the audit trail, never straight from a route.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .coltypes import JSONType, SealedString, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(), dict[str, Any]: JSONType(), list[Any]: JSONType()}


# -- organisation ------------------------------------------------------------------------------------
class Region(Base):
    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    units: Mapped[list[Unit]] = relationship(back_populates="region")


class Unit(Base):
    """A probation unit (a district service) inside a region."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    region: Mapped[Region] = relationship(back_populates="units")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(32), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    #: For partner users: the partner organisation they belong to.
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    totp_secret: Mapped[str | None] = mapped_column(SealedString("users.totp_secret"), nullable=True)
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- people and orders ---------------------------------------------------------------------------------
class Person(Base):
    """A person under supervision."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The id used in exchange bundles and on paper (e.g. ``S-0001``).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    surname: Mapped[str] = mapped_column(String(100), default="")
    given_name: Mapped[str] = mapped_column(String(100), default="")
    patronymic: Mapped[str] = mapped_column(String(100), default="")
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    iin: Mapped[str] = mapped_column(String(12), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    home_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    home_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="active")
    risk_notes: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    communication_timeout_s: Mapped[float] = mapped_column(Float, default=1800.0)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    orders: Mapped[list[CourtOrder]] = relationship(back_populates="person", order_by="CourtOrder.version")
    zones: Mapped[list[ZoneRecord]] = relationship(back_populates="person", order_by="ZoneRecord.id")
    protected_persons: Mapped[list[ProtectedPersonRecord]] = relationship(
        back_populates="person", order_by="ProtectedPersonRecord.id"
    )

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_name, self.patronymic) if p) or self.code


class CourtOrder(Base):
    """A version of a court order. Every variation is a new row; the current one has the highest version."""

    __tablename__ = "court_orders"
    __table_args__ = (UniqueConstraint("person_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    category: Mapped[str] = mapped_column(String(32))
    court: Mapped[str] = mapped_column(String(200), default="")
    case_number: Mapped[str] = mapped_column(String(64), default="")
    article: Mapped[str] = mapped_column(String(64), default="")
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    obligations: Mapped[list[Any]] = mapped_column(default=list)
    #: What this version changed: ``initial``, ``new_address``, ``zone_added``, ``curfew_changed``...
    variation: Mapped[str] = mapped_column(String(40), default="initial")
    effective_from: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(32), default="in_force")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    person: Mapped[Person] = relationship(back_populates="orders")


class ZoneRecord(Base):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("person_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    shape: Mapped[dict[str, Any]] = mapped_column()
    #: Weekly windows as in the exchange format; ``None`` means always active.
    schedule: Mapped[list[Any] | None] = mapped_column(JSONType(), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    grace_s: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    person: Mapped[Person] = relationship(back_populates="zones")


class ProtectedPersonRecord(Base):
    """A victim or other protected person whose device the wearer must keep away from."""

    __tablename__ = "protected_persons"
    __table_args__ = (UniqueConstraint("person_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    device_serial: Mapped[str] = mapped_column(String(64), index=True)
    distance_m: Mapped[float] = mapped_column(Float)
    grace_s: Mapped[float] = mapped_column(Float, default=60.0)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: Encrypted at field level (privacy issue); never stored in clear.
    address_enc: Mapped[str] = mapped_column(Text, default="")
    person: Mapped[Person] = relationship(back_populates="protected_persons")


# -- devices -------------------------------------------------------------------------------------------
class DeviceType(Base):
    """An approved type of tracking equipment and the procedure that goes with it."""

    __tablename__ = "device_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_kk: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    #: fitting_checklist, check_interval_h, charging_rule, reporting_interval_s, events, protocols
    procedure: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("device_types.id"))
    protocol: Mapped[str] = mapped_column(String(32), default="kuzet")
    status: Mapped[str] = mapped_column(String(32), default="in_stock")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    firmware: Mapped[str] = mapped_column(String(64), default="")
    #: Shared secret for the Kuzet device protocol (HMAC key); empty for other protocols.
    secret: Mapped[str] = mapped_column(SealedString("devices.secret"), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[DeviceType] = relationship()


class Assignment(Base):
    """A device fitted to a person: open while ``removed_at`` is null."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    fitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    device: Mapped[Device] = relationship()


class UnknownDevice(Base):
    """A device that tried to connect without being registered: listed for an administrator."""

    __tablename__ = "unknown_devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    protocol: Mapped[str] = mapped_column(String(32))
    remote: Mapped[str] = mapped_column(String(64), default="")
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class DeviceReportRecord(Base):
    """A stored device report (a position when it has a fix). ``dedup_key`` makes re-delivery idempotent."""

    __tablename__ = "device_reports"
    __table_args__ = (
        Index("ix_device_reports_device_time", "device", "time"),
        Index("ix_device_reports_person_time", "person_id", "time"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    device: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    time: Mapped[datetime] = mapped_column()
    received: Mapped[datetime] = mapped_column()
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(8), default="none")
    satellites: Mapped[int | None] = mapped_column(Integer, nullable=True)
    speed_kmh: Mapped[float | None] = mapped_column(Float, nullable=True)
    heading_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    altitude_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    battery_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    charging: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    strap: Mapped[str | None] = mapped_column(String(8), nullable=True)
    case: Mapped[str | None] = mapped_column(String(8), nullable=True)
    events: Mapped[list[Any]] = mapped_column(default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    protocol: Mapped[str] = mapped_column(String(32), default="")
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Order of arrival in an imported bundle (for evidence when a device has no ``seq``).
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)


# -- alerts ----------------------------------------------------------------------------------------------
class AlertRecord(Base):
    """An alert episode and its place in the workflow."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("subject_code", "type", "target_key", "start", name="uq_alerts_episode"),
        Index("ix_alerts_status_severity", "status", "severity"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True, nullable=True)
    subject_code: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True, nullable=True)
    device: Mapped[str | None] = mapped_column(String(64), nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: ``target`` or empty string, so the uniqueness rule treats "no target" as one value on every backend.
    target_key: Mapped[str] = mapped_column(String(64), default="")
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime | None] = mapped_column(nullable=True)
    raised_at: Mapped[datetime] = mapped_column()
    severity: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    rule: Mapped[str | None] = mapped_column(String(120), nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("court_orders.id"), nullable=True)
    #: Workflow: new, claimed, acknowledged, closed.
    status: Mapped[str] = mapped_column(String(16), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actions: Mapped[list[AlertAction]] = relationship(back_populates="alert", order_by="AlertAction.id")


class AlertAction(Base):
    __tablename__ = "alert_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    alert: Mapped[AlertRecord] = relationship(back_populates="actions")


# -- audit -------------------------------------------------------------------------------------------------
class AuditEntry(Base):
    """One read or change of personal data. Each row's hash covers its content and the previous hash."""

    __tablename__ = "audit_trail"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(64), default="system")
    role: Mapped[str] = mapped_column(String(32), default="system")
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64), default="")
    subject_person_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    purpose: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")
