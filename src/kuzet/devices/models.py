"""Tables of the device fleet: lifecycle history, signed fitting records, leases, invoices, health snapshots.

The core tables (``devices``, ``device_types``, ``assignments``, ``device_reports``) belong to the store; this
module only adds the fleet's own tables beside them, plus one partial unique index on ``assignments`` that makes
"a device fitted to two people" impossible in the database itself. Money is kept in tiyn (1/100 tenge) as
integers, never as floats.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kuzet.store.models import Assignment, Base, utcnow

#: At most one open assignment (``removed_at IS NULL``) per device, on SQLite and PostgreSQL alike.
OPEN_ASSIGNMENT_INDEX = Index(
    "uq_assignments_open_device",
    Assignment.device_id,
    unique=True,
    sqlite_where=Assignment.removed_at.is_(None),
    postgresql_where=Assignment.removed_at.is_(None),
)


class DeviceLifecycleEvent(Base):
    """One step in a device's life: which transition, from which state to which, where, for whom, by whom."""

    __tablename__ = "device_lifecycle_events"
    __table_args__ = (Index("ix_device_lifecycle_events_device_at", "device_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: register, fit, remove, return_to_stock, send_to_repair, report_lost, report_found, write_off, move
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(32), default="")
    to_status: Mapped[str] = mapped_column(String(32))
    from_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True, index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(64), default="system")
    note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class FittingRecord(Base):
    """The signed record of one fitting: the type's checklist as ticked, the test report, the address check."""

    __tablename__ = "device_fitting_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    fitted_at: Mapped[datetime] = mapped_column()
    fitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    #: ``[{"item": "...", "done": true}, ...]`` in the order of the type's procedure.
    checklist: Mapped[list[Any]] = mapped_column(default=list)
    officer_name: Mapped[str] = mapped_column(String(200))
    wearer_acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    place: Mapped[str] = mapped_column(String(300), default="")
    #: SHA-256 over the record's canonical content: a later edit of the record shows.
    signature: Mapped[str] = mapped_column(String(64))
    test_report_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("device_reports.id"), nullable=True)
    test_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: pending, confirmed, mismatch, no_home_address
    address_check: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    address_checked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    address_detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeaseContract(Base):
    """A lease of devices from a supplier at a cost per device-day, for a period."""

    __tablename__ = "device_lease_contracts"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    supplier: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="KZT")
    #: Price of one device-day, in tiyn (1/100 of a tenge).
    daily_rate_tiyn: Mapped[int] = mapped_column(BigInteger)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    devices: Mapped[list[LeasedDevice]] = relationship(back_populates="contract", order_by="LeasedDevice.id")


class LeasedDevice(Base):
    """A device covered by a lease contract."""

    __tablename__ = "device_leases"
    __table_args__ = (UniqueConstraint("contract_id", "device_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("device_lease_contracts.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    contract: Mapped[LeaseContract] = relationship(back_populates="devices")


class LeaseInvoice(Base):
    """A supplier's invoice for a period, as received (its lines are what the supplier claims)."""

    __tablename__ = "device_lease_invoices"
    __table_args__ = (UniqueConstraint("contract_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("device_lease_contracts.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    total_tiyn: Mapped[int] = mapped_column(BigInteger, default=0)
    #: received, reconciled, disputed
    status: Mapped[str] = mapped_column(String(16), default="received")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    lines: Mapped[list[LeaseInvoiceLine]] = relationship(back_populates="invoice", order_by="LeaseInvoiceLine.id")


class LeaseInvoiceLine(Base):
    """One device on an invoice: the days the supplier bills and the amount."""

    __tablename__ = "device_lease_invoice_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("device_lease_invoices.id"), index=True)
    device_serial: Mapped[str] = mapped_column(String(64))
    days_billed: Mapped[int] = mapped_column(Integer)
    amount_tiyn: Mapped[int] = mapped_column(BigInteger)
    invoice: Mapped[LeaseInvoice] = relationship(back_populates="lines")


class DeviceHealthSnapshot(Base):
    """A device's health as computed from its reports over a window, kept to show the trend."""

    __tablename__ = "device_health_snapshots"
    __table_args__ = (Index("ix_device_health_snapshots_device_at", "device_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    faulty: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
