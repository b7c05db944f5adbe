"""JSON API of the device fleet: ``/api/v1/devices/...`` (one device) and ``/api/v1/fleet/...`` (the fleet).

Every route declares its authorisation rule with :func:`kuzet.web.deps.require_roles`; handlers only translate
between HTTP and the service functions of this package (no SQL here). Rule violations raised by the services
are :class:`kuzet.domain.errors.DomainError` and become HTTP 422 naming the field; a device outside the caller's
scope is 404 (its existence is not revealed).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles

from . import addresscheck, catalogue, forecast, health, leasing, lifecycle
from .queries import (
    FITTING_ROLES,
    FLEET_ROLES,
    FORECAST_ROLES,
    LEASE_ROLES,
    STOCK_ROLES,
    device_page,
    first_reports,
    forecast_regions,
    list_devices,
    mismatches_in_scope,
    person_for_fitting,
    require_visible_unit,
    stock_by_unit,
    visible_device,
    visible_unit_ids,
)
from .states import LifecycleAction

router = APIRouter(prefix="/api/v1", tags=["devices"])

fleet_reader = require_roles(*FLEET_ROLES)
fitter = require_roles(*FITTING_ROLES)
stock_keeper = require_roles(*STOCK_ROLES)
lease_reader = require_roles(*LEASE_ROLES)
administrator = require_roles(Role.ADMINISTRATOR)
forecast_reader = require_roles(*FORECAST_ROLES)


# -- request bodies -------------------------------------------------------------------------------------
class RegisterDevice(BaseModel):
    serial: str
    type: str
    unit: str
    protocol: str | None = None
    firmware: str = ""
    #: HMAC key for the Kuzet device protocol (empty for other protocols); never returned by the API.
    secret: str = ""


class FitDevice(BaseModel):
    person_id: int
    checklist: dict[str, bool]
    officer_name: str
    wearer_acknowledged: bool
    place: str = ""
    note: str = ""
    test_report_id: int | None = None


class Reason(BaseModel):
    reason: str = Field(description="why (removal, repair fault, loss circumstances, write-off reason)")


class Note(BaseModel):
    note: str = ""
    unit: str | None = None


class MoveDevice(BaseModel):
    unit: str
    note: str = ""


class DeviceTypeBody(BaseModel):
    code: str
    name_ru: str
    name_kk: str
    name_en: str
    procedure: dict[str, Any]


class DeviceTypePatch(BaseModel):
    name_ru: str | None = None
    name_kk: str | None = None
    name_en: str | None = None
    procedure: dict[str, Any] | None = None
    active: bool | None = None


class ContractBody(BaseModel):
    reference: str
    supplier: str
    daily_rate_tiyn: int
    start_date: date
    end_date: date | None = None
    region_id: int | None = None
    note: str = ""


class SerialsBody(BaseModel):
    serials: list[str]


class InvoiceLineBody(BaseModel):
    device: str
    days_billed: int
    amount_tiyn: int


class InvoiceBody(BaseModel):
    number: str
    period_start: date
    period_end: date
    lines: list[InvoiceLineBody]


def _type_json(t: Any) -> dict[str, Any]:
    return {"code": t.code, "name_ru": t.name_ru, "name_kk": t.name_kk, "name_en": t.name_en,
            "procedure": t.procedure, "active": t.active, "seeded": t.code in catalogue.SEEDED_CODES}


def _step(session: Session, principal: Principal, serial: str, action: LifecycleAction, text: str,
          unit: str | None = None) -> dict[str, Any]:
    """One lifecycle step on a device in the caller's scope; the new history entry as JSON."""
    visible_device(session, principal, serial)
    e = lifecycle.take_step(session, principal.actor, serial, action, text=text, unit=unit)
    return {"at": e.at.isoformat(), "action": e.action, "from": e.from_status, "to": e.to_status}


# -- devices ------------------------------------------------------------------------------------------------
@router.get("/fleet/devices")
def api_list_devices(status: str | None = None, unit: str | None = None, type: str | None = None,
                     principal: Principal = Depends(fleet_reader),
                     session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """Devices in the caller's scope, with their state, unit and current wearer's code."""
    return [{"serial": d.serial, "type": d.type_code, "status": d.status, "unit": d.unit_code,
             "firmware": d.firmware, "wearer": d.person_code}
            for d in list_devices(session, principal, status=status, unit=unit, type_code=type)]


@router.post("/devices", status_code=201)
def api_register_device(body: RegisterDevice, principal: Principal = Depends(stock_keeper),
                        session: Session = Depends(get_session)) -> dict[str, Any]:
    """Take a new device into stock at one of the caller's units."""
    require_visible_unit(session, principal, body.unit)
    device = lifecycle.register_device(session, principal.actor, serial=body.serial, type_code=body.type,
                                       unit=body.unit, protocol=body.protocol, firmware=body.firmware,
                                       secret=body.secret)
    return {"serial": device.serial, "status": device.status}


@router.get("/devices/{serial}")
def api_device(serial: str, principal: Principal = Depends(fleet_reader),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    """A device: its state, wearer, signed fittings and full history."""
    return device_page(session, principal, serial).to_json()


@router.post("/devices/{serial}/fit")
def api_fit(serial: str, body: FitDevice, principal: Principal = Depends(fitter),
            session: Session = Depends(get_session)) -> dict[str, Any]:
    """Fit the device to a person with the signed fitting record (the test report must have arrived)."""
    visible_device(session, principal, serial)
    person_for_fitting(session, principal, body.person_id)
    fitting = lifecycle.fit_device(session, principal.actor, serial=serial, person_id=body.person_id,
                                   form=lifecycle.FittingForm(body.checklist, body.officer_name,
                                                              body.wearer_acknowledged, body.place, body.note,
                                                              body.test_report_id))
    return {"fitting_id": fitting.id, "signature": fitting.signature, "address_check": fitting.address_check,
            "test": fitting.test_summary}


@router.post("/devices/{serial}/remove")
def api_remove(serial: str, body: Reason, principal: Principal = Depends(fitter),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    return _step(session, principal, serial, LifecycleAction.REMOVE, body.reason)


@router.post("/devices/{serial}/lost")
def api_lost(serial: str, body: Reason, principal: Principal = Depends(fitter),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    return _step(session, principal, serial, LifecycleAction.REPORT_LOST, body.reason)


@router.post("/devices/{serial}/found")
def api_found(serial: str, body: Note, principal: Principal = Depends(fitter),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    return _step(session, principal, serial, LifecycleAction.REPORT_FOUND, body.note, body.unit)


@router.post("/devices/{serial}/return-to-stock")
def api_return(serial: str, body: Note, principal: Principal = Depends(stock_keeper),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    return _step(session, principal, serial, LifecycleAction.RETURN_TO_STOCK, body.note)


@router.post("/devices/{serial}/repair")
def api_repair(serial: str, body: Reason, principal: Principal = Depends(stock_keeper),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    return _step(session, principal, serial, LifecycleAction.SEND_TO_REPAIR, body.reason)


@router.post("/devices/{serial}/write-off")
def api_write_off(serial: str, body: Reason, principal: Principal = Depends(stock_keeper),
                  session: Session = Depends(get_session)) -> dict[str, Any]:
    return _step(session, principal, serial, LifecycleAction.WRITE_OFF, body.reason)


@router.post("/devices/{serial}/move")
def api_move(serial: str, body: MoveDevice, principal: Principal = Depends(stock_keeper),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    require_visible_unit(session, principal, body.unit)
    return _step(session, principal, serial, LifecycleAction.MOVE, body.note, body.unit)


@router.get("/devices/{serial}/health")
def api_device_health(serial: str, days: int = Query(7, ge=1, le=90), principal: Principal = Depends(fleet_reader),
                      session: Session = Depends(get_session)) -> dict[str, Any]:
    """Battery, charging, GPS/GSM quality, firmware and faults over the last ``days``."""
    visible_device(session, principal, serial)
    return health.device_health(session, serial, now=datetime.now(UTC), window=timedelta(days=days)).to_json()


@router.get("/devices/{serial}/first-reports")
def api_first_reports(serial: str, principal: Principal = Depends(fitter),
                      session: Session = Depends(get_session)) -> dict[str, Any]:
    """Positions since the current fitting (location data: scoped to the wearer and audited)."""
    person, positions = first_reports(session, principal, serial)
    return {"person": person.code, "positions": [p.to_json() for p in positions]}


# -- the fleet ----------------------------------------------------------------------------------------------
@router.get("/fleet/stock")
def api_stock(principal: Principal = Depends(fleet_reader),
              session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """Devices per unit and type, by state."""
    return [{"unit": r.unit_code, "type": r.type_code, "counts": r.counts, "available": r.available}
            for r in stock_by_unit(session, principal)]


@router.get("/fleet/health")
def api_fleet_health(days: int = Query(7, ge=1, le=90), flagged_only: bool = True, live: bool = False,
                     principal: Principal = Depends(fleet_reader),
                     session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """Health of the devices in scope, the faulty-looking first: from the latest daily snapshots, or computed
    now from the reports with ``live=true`` (slower: every fitted device's reports are read)."""
    units = visible_unit_ids(session, principal)
    if not live:
        return [h.to_json() for h in health.latest_health(session, unit_ids=units, flagged_only=flagged_only)]
    result = health.fleet_health(session, now=datetime.now(UTC), window=timedelta(days=days), unit_ids=units)
    return [h.to_json() for h in result if h.flags or not flagged_only]


@router.get("/fleet/fittings/mismatches")
def api_mismatches(principal: Principal = Depends(fitter),
                   session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """Fittings whose first reports did not come from the wearer's home (a wrong device?)."""
    return mismatches_in_scope(session, principal)


@router.post("/fleet/fittings/check")
def api_check_fittings(principal: Principal = Depends(stock_keeper),
                       session: Session = Depends(get_session)) -> dict[str, int]:
    """Re-judge every pending fitting from the reports received so far."""
    checks = addresscheck.check_pending_fittings(session, now=datetime.now(UTC), actor=principal.actor)
    return {v.value: sum(1 for c in checks if c.verdict is v) for v in addresscheck.AddressVerdict}


@router.get("/fleet/forecast")
def api_forecast(weeks: int = Query(12, ge=2, le=104), horizon_weeks: int = Query(8, ge=1, le=52),
                 principal: Principal = Depends(forecast_reader),
                 session: Session = Depends(get_session)) -> list[dict[str, object]]:
    """Devices needed per region and type from the caseload trend, and the shortfall."""
    return [f.to_json() for f in forecast.stock_forecast(session, weeks=weeks, horizon_weeks=horizon_weeks,
                                                         region_ids=forecast_regions(principal))]


# -- catalogue -------------------------------------------------------------------------------------------------
@router.get("/fleet/catalogue")
def api_catalogue(principal: Principal = Depends(fleet_reader),
                  session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """The approved device types and their procedures."""
    return [_type_json(t) for t in catalogue.list_types(session)]


@router.post("/fleet/catalogue", status_code=201)
def api_create_type(body: DeviceTypeBody, principal: Principal = Depends(administrator),
                    session: Session = Depends(get_session)) -> dict[str, Any]:
    return _type_json(catalogue.create_type(session, principal.actor, code=body.code, name_ru=body.name_ru,
                                            name_kk=body.name_kk, name_en=body.name_en, procedure=body.procedure))


@router.patch("/fleet/catalogue/{code}")
def api_update_type(code: str, body: DeviceTypePatch, principal: Principal = Depends(administrator),
                    session: Session = Depends(get_session)) -> dict[str, Any]:
    return _type_json(catalogue.update_type(session, principal.actor, code, name_ru=body.name_ru,
                                            name_kk=body.name_kk, name_en=body.name_en, procedure=body.procedure,
                                            active=body.active))


@router.delete("/fleet/catalogue/{code}", status_code=204)
def api_delete_type(code: str, principal: Principal = Depends(administrator),
                    session: Session = Depends(get_session)) -> None:
    catalogue.delete_type(session, principal.actor, code)


# -- leasing ---------------------------------------------------------------------------------------------------
@router.get("/fleet/leases")
def api_leases(principal: Principal = Depends(lease_reader),
               session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return [{"reference": c.reference, "supplier": c.supplier, "daily_rate_tiyn": c.daily_rate_tiyn,
             "start_date": c.start_date.isoformat(), "end_date": c.end_date.isoformat() if c.end_date else None,
             "devices": len(c.devices),
             "invoices": [{"id": i.id, "number": i.number, "status": i.status, "total_tiyn": i.total_tiyn,
                           "period_start": i.period_start.isoformat(), "period_end": i.period_end.isoformat()}
                          for i in leasing.list_invoices(session, c.id)]}
            for c in leasing.list_contracts(session)]


@router.post("/fleet/leases", status_code=201)
def api_create_lease(body: ContractBody, principal: Principal = Depends(administrator),
                     session: Session = Depends(get_session)) -> dict[str, Any]:
    contract = leasing.create_contract(session, principal.actor, reference=body.reference, supplier=body.supplier,
                                       daily_rate_tiyn=body.daily_rate_tiyn, start_date=body.start_date,
                                       end_date=body.end_date, region_id=body.region_id, note=body.note)
    return {"reference": contract.reference, "id": contract.id}


@router.post("/fleet/leases/{reference}/devices")
def api_lease_devices(reference: str, body: SerialsBody, principal: Principal = Depends(administrator),
                      session: Session = Depends(get_session)) -> dict[str, int]:
    return {"added": leasing.lease_devices(session, principal.actor, reference, body.serials)}


@router.post("/fleet/leases/{reference}/invoices", status_code=201)
def api_record_invoice(reference: str, body: InvoiceBody, principal: Principal = Depends(administrator),
                       session: Session = Depends(get_session)) -> dict[str, Any]:
    invoice = leasing.record_invoice(
        session, principal.actor, contract=reference, number=body.number, period_start=body.period_start,
        period_end=body.period_end,
        lines=[leasing.InvoiceLineInput(line.device, line.days_billed, line.amount_tiyn) for line in body.lines])
    return {"id": invoice.id, "total_tiyn": invoice.total_tiyn}


@router.post("/fleet/invoices/{invoice_id}/reconcile")
def api_reconcile(invoice_id: int, principal: Principal = Depends(lease_reader),
                  session: Session = Depends(get_session)) -> dict[str, Any]:
    """Reconcile an invoice against fitted device-days: billed-while-in-stock and other findings."""
    return leasing.reconcile_invoice(session, principal.actor, invoice_id).to_json()
