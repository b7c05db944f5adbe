"""Leases of devices, suppliers' invoices, and their reconciliation against the days each device was fitted.

The service pays for device-days on a person, not for devices on a shelf: the UK paid for years of tags that
were never fitted (DOMAIN.md, issue 9). A supplier's invoice lists, per device, the days billed and the amount;
:func:`reconcile_invoice` compares every line with the device's own history (its assignments, and its lifecycle
for the days it was not fitted) in the region's local calendar, and names each discrepancy: days billed while
the device was in stock, in repair, lost or written off; devices not on the contract; wrong rates; lines
billed twice; fitted devices the supplier did not bill.

Money is in tiyn (integers). Must never: change an invoice's lines (they are what the supplier claimed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.store.models import Assignment, Device, Region

from .errors import LeaseError, NotFound
from .models import DeviceLifecycleEvent, LeaseContract, LeasedDevice, LeaseInvoice, LeaseInvoiceLine


class Finding(StrEnum):
    BILLED_WHILE_IN_STOCK = "billed_while_in_stock"
    BILLED_WHILE_NOT_FITTED = "billed_while_not_fitted"
    NOT_ON_CONTRACT = "not_on_contract"
    UNKNOWN_DEVICE = "unknown_device"
    RATE_MISMATCH = "rate_mismatch"
    MORE_DAYS_THAN_PERIOD = "more_days_than_period"
    OUTSIDE_CONTRACT_PERIOD = "outside_contract_period"
    DUPLICATE_LINE = "duplicate_line"
    FITTED_NOT_BILLED = "fitted_not_billed"


@dataclass(frozen=True, slots=True)
class InvoiceLineInput:
    device_serial: str
    days_billed: int
    amount_tiyn: int


@dataclass(frozen=True, slots=True)
class LineReconciliation:
    device_serial: str
    days_billed: int
    days_fitted: int
    amount_billed_tiyn: int
    amount_due_tiyn: int
    #: Days in the period the device was not fitted, by the state it was in (``in_stock``: 12, ...).
    unfitted_days: dict[str, int]
    findings: tuple[Finding, ...]
    #: The unfitted dates themselves, for the supplier's dispute letter.
    unfitted_dates: tuple[date, ...] = field(default=())

    @property
    def overbilled_tiyn(self) -> int:
        return max(self.amount_billed_tiyn - self.amount_due_tiyn, 0)


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    invoice_number: str
    contract_reference: str
    supplier: str
    period_start: date
    period_end: date
    daily_rate_tiyn: int
    lines: tuple[LineReconciliation, ...]
    #: Devices on the contract fitted in the period that the invoice does not bill (serial -> fitted days).
    fitted_not_billed: dict[str, int]

    @property
    def total_billed_tiyn(self) -> int:
        return sum(line.amount_billed_tiyn for line in self.lines)

    @property
    def total_due_tiyn(self) -> int:
        return sum(line.amount_due_tiyn for line in self.lines)

    @property
    def total_overbilled_tiyn(self) -> int:
        return sum(line.overbilled_tiyn for line in self.lines)

    @property
    def disputed(self) -> bool:
        return any(line.findings for line in self.lines)

    def findings(self, finding: Finding) -> list[LineReconciliation]:
        return [line for line in self.lines if finding in line.findings]

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice": self.invoice_number, "contract": self.contract_reference, "supplier": self.supplier,
            "period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
            "daily_rate_tiyn": self.daily_rate_tiyn, "total_billed_tiyn": self.total_billed_tiyn,
            "total_due_tiyn": self.total_due_tiyn, "total_overbilled_tiyn": self.total_overbilled_tiyn,
            "disputed": self.disputed, "fitted_not_billed": self.fitted_not_billed,
            "lines": [{"device": line.device_serial, "days_billed": line.days_billed,
                       "days_fitted": line.days_fitted, "amount_billed_tiyn": line.amount_billed_tiyn,
                       "amount_due_tiyn": line.amount_due_tiyn, "overbilled_tiyn": line.overbilled_tiyn,
                       "unfitted_days": line.unfitted_days, "findings": [f.value for f in line.findings],
                       "unfitted_dates": [d.isoformat() for d in line.unfitted_dates]} for line in self.lines],
        }


def format_tenge(tiyn: int) -> str:
    """``123456`` tiyn -> ``'1 234.56'`` (a thin space between thousands is left to the UI)."""
    sign = "-" if tiyn < 0 else ""
    whole, cents = divmod(abs(tiyn), 100)
    return f"{sign}{whole:,}.{cents:02d}".replace(",", " ")


# -- contracts and invoices -----------------------------------------------------------------------------
def get_contract(session: Session, reference: str) -> LeaseContract:
    contract = session.execute(select(LeaseContract).where(LeaseContract.reference == reference)).scalar_one_or_none()
    if contract is None:
        raise NotFound(f"no lease contract {reference!r}", field="contract")
    return contract


def create_contract(session: Session, actor: Actor, *, reference: str, supplier: str, daily_rate_tiyn: int,
                    start_date: date, end_date: date | None = None, region_id: int | None = None,
                    note: str = "") -> LeaseContract:
    if not reference.strip() or not supplier.strip():
        raise LeaseError("a lease contract needs a reference and a supplier", field="reference")
    if daily_rate_tiyn <= 0:
        raise LeaseError(f"cost per device-day must be positive, got {daily_rate_tiyn} tiyn", field="daily_rate")
    if end_date is not None and end_date < start_date:
        raise LeaseError(f"contract ends {end_date} before it starts {start_date}", field="end_date")
    if session.execute(select(LeaseContract.id).where(LeaseContract.reference == reference)).first():
        raise LeaseError(f"lease contract {reference} already exists", field="reference")
    contract = LeaseContract(reference=reference.strip(), supplier=supplier.strip(), daily_rate_tiyn=daily_rate_tiyn,
                             start_date=start_date, end_date=end_date, region_id=region_id, note=note)
    session.add(contract)
    session.flush()
    record(session, actor, "lease.create", "lease_contract", contract.reference, purpose="device leasing",
           detail={"supplier": supplier, "daily_rate_tiyn": daily_rate_tiyn, "start": start_date.isoformat(),
                   "end": end_date.isoformat() if end_date else None})
    return contract


def lease_devices(session: Session, actor: Actor, reference: str, serials: Iterable[str]) -> int:
    """Put devices under a contract; returns how many were added (already covered ones are skipped)."""
    contract = get_contract(session, reference)
    wanted = list(dict.fromkeys(serials))
    found = dict(session.execute(select(Device.serial, Device.id).where(Device.serial.in_(wanted))).all())
    missing = [s for s in wanted if s not in found]
    if missing:
        raise NotFound(f"no device with serial {', '.join(missing)}", field="serials")
    have = set(session.execute(select(LeasedDevice.device_id).where(LeasedDevice.contract_id == contract.id))
               .scalars())
    added = [found[s] for s in wanted if found[s] not in have]
    session.add_all(LeasedDevice(contract_id=contract.id, device_id=d) for d in added)
    session.flush()
    if added:
        record(session, actor, "lease.devices", "lease_contract", contract.reference, purpose="device leasing",
               detail={"added": [s for s in wanted if found[s] in added]})
    return len(added)


def record_invoice(session: Session, actor: Actor, *, contract: str, number: str, period_start: date,
                   period_end: date, lines: Sequence[InvoiceLineInput]) -> LeaseInvoice:
    """Store a supplier's invoice exactly as received."""
    lease = get_contract(session, contract)
    if period_end < period_start:
        raise LeaseError(f"invoice period ends {period_end} before it starts {period_start}", field="period_end")
    if not number.strip():
        raise LeaseError("an invoice needs its number", field="number")
    if session.execute(select(LeaseInvoice.id).where(LeaseInvoice.contract_id == lease.id,
                                                     LeaseInvoice.number == number)).first():
        raise LeaseError(f"invoice {number} of contract {contract} is already recorded", field="number")
    for line in lines:
        if line.days_billed < 0 or line.amount_tiyn < 0:
            raise LeaseError(f"negative days or amount for device {line.device_serial}", field="lines")
    invoice = LeaseInvoice(contract_id=lease.id, number=number, period_start=period_start, period_end=period_end,
                           total_tiyn=sum(line.amount_tiyn for line in lines))
    invoice.lines = [LeaseInvoiceLine(device_serial=line.device_serial.strip(), days_billed=line.days_billed,
                                      amount_tiyn=line.amount_tiyn) for line in lines]
    session.add(invoice)
    session.flush()
    record(session, actor, "lease.invoice", "lease_invoice", invoice.id, purpose="device leasing",
           detail={"contract": contract, "number": number, "lines": len(lines), "total_tiyn": invoice.total_tiyn})
    return invoice


def get_invoice(session: Session, invoice_id: int) -> LeaseInvoice:
    invoice = session.get(LeaseInvoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no lease invoice {invoice_id}", field="invoice")
    return invoice


# -- device-days ------------------------------------------------------------------------------------------
def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def fitted_dates(assignments: Iterable[tuple[datetime, datetime | None]], period_start: date, period_end: date,
                 tz: ZoneInfo, *, now: datetime | None = None) -> set[date]:
    """Local dates in the period on which the device was on a person at any moment."""
    out: set[date] = set()
    ceiling = now or datetime.now(UTC)
    for fitted_at, removed_at in assignments:
        first = _local_date(fitted_at, tz)
        end = removed_at or ceiling
        last = _local_date(end - timedelta(microseconds=1), tz) if end > fitted_at else first
        for d in _days(max(first, period_start), min(last, period_end)):
            out.add(d)
    return out


def status_on_dates(events: Sequence[tuple[datetime, str]], dates: Iterable[date], tz: ZoneInfo,
                    fallback: str) -> dict[date, str]:
    """The state a device was in at the end of each local date, from its lifecycle (oldest first)."""
    out = {}
    for d in dates:
        end_of_day = datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz)
        state = "not_registered" if events else fallback
        for at, to_status in events:
            if at < end_of_day:
                state = to_status
            else:
                break
        out[d] = state
    return out


def _region_tz(session: Session, contract: LeaseContract) -> ZoneInfo:
    region = session.get(Region, contract.region_id) if contract.region_id else None
    return ZoneInfo(region.timezone if region else "Asia/Almaty")


def reconcile_invoice(session: Session, actor: Actor, invoice_id: int, *, now: datetime | None = None,
                      record_outcome: bool = True) -> ReconciliationReport:
    """Compare each invoice line with the device's fitted days; mark the invoice reconciled or disputed.

    ``record_outcome=False`` only computes the report (for viewing): the invoice and the audit trail are left
    as they are.
    """
    invoice = get_invoice(session, invoice_id)
    contract = session.get(LeaseContract, invoice.contract_id)
    assert contract is not None
    tz = _region_tz(session, contract)
    period = _days(invoice.period_start, invoice.period_end)
    in_contract = {d for d in period
                   if contract.start_date <= d and (contract.end_date is None or d <= contract.end_date)}
    leased = set(session.execute(select(LeasedDevice.device_id).where(LeasedDevice.contract_id == contract.id))
                 .scalars())
    seen = Counter(line.device_serial for line in invoice.lines)
    results = []
    billed_ids: set[int] = set()
    for line in invoice.lines:
        findings: list[Finding] = []
        device = session.execute(select(Device).where(Device.serial == line.device_serial)).scalar_one_or_none()
        fitted: set[date] = set()
        unfitted: dict[date, str] = {}
        if device is None:
            findings.append(Finding.UNKNOWN_DEVICE)
        else:
            billed_ids.add(device.id)
            if device.id not in leased:
                findings.append(Finding.NOT_ON_CONTRACT)
            fitted = _fitted(session, device.id, invoice.period_start, invoice.period_end, tz, now)
            events = [(at, status) for at, status in session.execute(
                select(DeviceLifecycleEvent.at, DeviceLifecycleEvent.to_status)
                .where(DeviceLifecycleEvent.device_id == device.id)
                .order_by(DeviceLifecycleEvent.at, DeviceLifecycleEvent.id)).all()]
            unfitted = status_on_dates(events, [d for d in period if d not in fitted], tz, device.status)
        if seen[line.device_serial] > 1:
            findings.append(Finding.DUPLICATE_LINE)
        if line.days_billed > len(period):
            findings.append(Finding.MORE_DAYS_THAN_PERIOD)
        if len(in_contract) < len(period):
            findings.append(Finding.OUTSIDE_CONTRACT_PERIOD)
        if line.amount_tiyn != line.days_billed * contract.daily_rate_tiyn:
            findings.append(Finding.RATE_MISMATCH)
        # Only days on a person, inside the contract's period, of a device the contract covers are payable.
        payable_days = (min(line.days_billed, len(fitted & in_contract))
                        if device is not None and device.id in leased else 0)
        if line.days_billed > len(fitted) and device is not None:
            states = Counter(unfitted.values())
            findings.append(Finding.BILLED_WHILE_IN_STOCK if states.get("in_stock") else
                            Finding.BILLED_WHILE_NOT_FITTED)
        due = payable_days * contract.daily_rate_tiyn
        results.append(LineReconciliation(
            device_serial=line.device_serial, days_billed=line.days_billed, days_fitted=len(fitted),
            amount_billed_tiyn=line.amount_tiyn, amount_due_tiyn=due,
            unfitted_days=dict(sorted(Counter(unfitted.values()).items())), findings=tuple(findings),
            unfitted_dates=tuple(sorted(unfitted))))
    # Fitted devices of the contract that the supplier did not bill (they may bill them later: information).
    not_billed = {}
    for device_id, serial in session.execute(select(Device.id, Device.serial).where(
            Device.id.in_(leased - billed_ids)).order_by(Device.serial)).all():
        days = _fitted(session, device_id, invoice.period_start, invoice.period_end, tz, now)
        if days:
            not_billed[serial] = len(days)
    report = ReconciliationReport(invoice.number, contract.reference, contract.supplier, invoice.period_start,
                                  invoice.period_end, contract.daily_rate_tiyn, tuple(results), not_billed)
    if not record_outcome:
        return report
    invoice.status = "disputed" if report.disputed else "reconciled"
    record(session, actor, "lease.reconcile", "lease_invoice", invoice.id, purpose="device leasing",
           detail={"status": invoice.status, "billed_tiyn": report.total_billed_tiyn,
                   "due_tiyn": report.total_due_tiyn, "overbilled_tiyn": report.total_overbilled_tiyn,
                   "findings": sorted({f.value for line in results for f in line.findings})})
    return report


def _fitted(session: Session, device_id: int, start: date, end: date, tz: ZoneInfo,
            now: datetime | None) -> set[date]:
    rows = session.execute(select(Assignment.fitted_at, Assignment.removed_at)
                           .where(Assignment.device_id == device_id)).all()
    return fitted_dates([(a, b) for a, b in rows], start, end, tz, now=now)


def fitted_device_days(session: Session, device_id: int, start: date, end: date, *,
                       timezone: str = "Asia/Almaty", now: datetime | None = None) -> int:
    """How many local days in ``[start, end]`` the device was on a person (for cost reports)."""
    return len(_fitted(session, device_id, start, end, ZoneInfo(timezone), now))


def list_contracts(session: Session) -> list[LeaseContract]:
    return list(session.execute(select(LeaseContract).order_by(LeaseContract.reference)).scalars())


def list_invoices(session: Session, contract_id: int | None = None) -> list[LeaseInvoice]:
    stmt = select(LeaseInvoice).order_by(LeaseInvoice.period_start.desc(), LeaseInvoice.id.desc())
    if contract_id is not None:
        stmt = stmt.where(LeaseInvoice.contract_id == contract_id)
    return list(session.execute(stmt).scalars())
