"""Officer UI pages of the device fleet: stock per unit, a device's page, the fitting form, the fleet's health
and forecast, leases and the reconciliation report.

Handlers call the same services as the API and render templates from ``kuzet/devices/templates/devices``.
A refused step (an impossible transition, an incomplete fitting) is shown on the page with the service's
message; nothing is half-done because the request's session is rolled back on error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kuzet.access.policy import AccessDenied, NotVisible, can_read_locations
from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.rendering import NavItem, add_nav_item, render

from . import addresscheck, catalogue, forecast, health, leasing, lifecycle
from .errors import FleetError, LeaseError
from .queries import (
    ACTION_ROLES,
    FITTING_ROLES,
    FLEET_ROLES,
    LEASE_ROLES,
    STOCK_ROLES,
    device_checklist,
    device_page,
    first_reports,
    fitting_candidates,
    forecast_regions,
    list_devices,
    mismatches_in_scope,
    person_for_fitting,
    require_visible_unit,
    stock_by_unit,
    visible_device,
    visible_unit_ids,
    visible_units,
)
from .states import DeviceStatus, LifecycleAction

router = APIRouter(include_in_schema=False)
fleet_reader = require_roles(*FLEET_ROLES)
fitter = require_roles(*FITTING_ROLES)
stock_keeper = require_roles(*STOCK_ROLES)
lease_reader = require_roles(*LEASE_ROLES)
administrator = require_roles(Role.ADMINISTRATOR)

add_nav_item(NavItem("/ui/devices", "Devices", frozenset(FLEET_ROLES)))


@router.get("/ui/devices", response_class=HTMLResponse)
def stock_page(request: Request, status: str = "", unit: str = "", type: str = "",
               fit_for: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               principal: Principal = Depends(fleet_reader), session: Session = Depends(get_session)) -> Response:
    """Stock per unit and the device list; with ``fit_for`` (a person's id, from their page) the devices in
    stock link to the fitting form for that person."""
    fit_person = None
    if fit_for is not None and principal.role in FITTING_ROLES:
        fit_person = person_for_fitting(session, principal, fit_for)
    return render(request, "devices/stock.html", {
        "fit_person": fit_person,
        "stock": stock_by_unit(session, principal),
        "devices": list_devices(session, principal, status=status or None, unit=unit or None,
                                type_code=type or None),
        "units": visible_units(session, principal), "types": catalogue.list_types(session, include_inactive=False),
        "statuses": [s.value for s in DeviceStatus], "filters": {"status": status, "unit": unit, "type": type},
        "can_register": principal.role in STOCK_ROLES, "error": request.query_params.get("error"),
    })


@router.post("/ui/devices", response_class=HTMLResponse)
def register_from_form(request: Request, serial: str = Form(...), type: str = Form(...), unit: str = Form(...),
                       firmware: str = Form(""), principal: Principal = Depends(stock_keeper),
                       session: Session = Depends(get_session)) -> Response:
    try:
        require_visible_unit(session, principal, unit)
        lifecycle.register_device(session, principal.actor, serial=serial, type_code=type, unit=unit,
                                  firmware=firmware)
    except FleetError as exc:
        session.rollback()
        return RedirectResponse(f"/ui/devices?error={_q(str(exc))}", status_code=303)
    return RedirectResponse(f"/ui/devices/{serial.strip()}", status_code=303)


def _q(text: str) -> str:
    return quote(text, safe="")


@router.get("/ui/devices/{serial}", response_class=HTMLResponse)
def device_view(request: Request, serial: str, principal: Principal = Depends(fleet_reader),
                session: Session = Depends(get_session)) -> Response:
    """A device: state, actions, fittings, history, health and (for the wearer's officers) its first reports."""
    page = device_page(session, principal, serial)
    positions: list[dict[str, Any]] = []
    if page.wearer_id is not None and can_read_locations(principal):
        try:
            positions = [p.to_json() for p in first_reports(session, principal, serial)[1]]
        except (NotVisible, AccessDenied):  # the wearer is on another caseload: no positions, the rest is shown
            positions = []
    now = datetime.now(UTC)
    return render(request, "devices/device.html", {
        "page": page, "health": health.device_health(session, serial, now=now, window=timedelta(days=7)),
        "trend": health.health_trend(session, serial, limit=14),
        "positions": positions, "units": visible_units(session, principal),
        "error": request.query_params.get("error"),
    })


@router.post("/ui/devices/{serial}/action", response_class=HTMLResponse)
def device_action(request: Request, serial: str, action: str = Form(...), text: str = Form(""),
                  unit: str = Form(""), principal: Principal = Depends(fleet_reader),
                  session: Session = Depends(get_session)) -> Response:
    """One lifecycle step from the device page (the role rule per step is :data:`ACTION_ROLES`)."""
    try:
        step = LifecycleAction(action)
        if principal.role not in ACTION_ROLES.get(step, ()):
            raise AccessDenied(f"role {principal.role.value} may not {step.value.replace('_', ' ')} a device")
        visible_device(session, principal, serial)
        if step is LifecycleAction.MOVE:
            require_visible_unit(session, principal, unit)
        lifecycle.take_step(session, principal.actor, serial, step, text=text, unit=unit or None)
    except ValueError as exc:  # FleetError and an unknown action alike
        session.rollback()
        return RedirectResponse(f"/ui/devices/{_q(serial)}?error={_q(str(exc))}", status_code=303)
    return RedirectResponse(f"/ui/devices/{_q(serial)}", status_code=303)


@router.get("/ui/devices/{serial}/fit", response_class=HTMLResponse)
def fitting_form(request: Request, serial: str, person_id: int | None = None,
                 principal: Principal = Depends(fitter), session: Session = Depends(get_session)) -> Response:
    """The fitting form: the person, the type's checklist, the signatures."""
    page = device_page(session, principal, serial)
    return render(request, "devices/fit.html", {
        "page": page, "people": fitting_candidates(session, principal, serial),
        "checklist": device_checklist(session, principal, serial), "person_id": person_id, "error": None,
        "form": {}, "window_min": int(lifecycle.TEST_REPORT_BEFORE.total_seconds() // 60),
    })


@router.post("/ui/devices/{serial}/fit", response_class=HTMLResponse)
async def fit_from_form(request: Request, serial: str, principal: Principal = Depends(fitter),
                        session: Session = Depends(get_session)) -> Response:
    form = await request.form()
    checklist = device_checklist(session, principal, serial)
    ticked = {item: form.get(f"check_{i}") == "on" for i, item in enumerate(checklist)}
    raw_person = str(form.get("person_id") or "")
    try:
        if not raw_person.isdigit():
            raise FleetError("choose the person the device is fitted to", field="person_id")
        person = person_for_fitting(session, principal, int(raw_person))
        lifecycle.fit_device(session, principal.actor, serial=serial, person_id=person.id, form=lifecycle.FittingForm(
            checklist=ticked, officer_name=str(form.get("officer_name") or ""),
            wearer_acknowledged=form.get("wearer_acknowledged") == "on", place=str(form.get("place") or ""),
            note=str(form.get("note") or "")))
    except (FleetError, NotVisible) as exc:
        session.rollback()
        page = device_page(session, principal, serial)
        return render(request, "devices/fit.html", {
            "page": page, "people": fitting_candidates(session, principal, serial), "checklist": checklist,
            "person_id": int(raw_person) if raw_person.isdigit() else None, "error": str(exc),
            "form": {k: str(v) for k, v in form.items()},
            "window_min": int(lifecycle.TEST_REPORT_BEFORE.total_seconds() // 60)}, status_code=422)
    return RedirectResponse(f"/ui/devices/{_q(serial)}", status_code=303)


@router.get("/ui/fleet", response_class=HTMLResponse)
def fleet_overview(request: Request, principal: Principal = Depends(fleet_reader),
                   session: Session = Depends(get_session)) -> Response:
    """Devices that look faulty, fittings that look like the wrong device, and the stock forecast."""
    now = datetime.now(UTC)
    flagged = health.latest_health(session, unit_ids=visible_unit_ids(session, principal))
    return render(request, "devices/fleet.html", {
        "flagged": flagged, "mismatches": mismatches_in_scope(session, principal),
        "forecasts": forecast.stock_forecast(session, now=now, region_ids=forecast_regions(principal)),
        "can_check": principal.role in STOCK_ROLES,
    })


@router.post("/ui/fleet/check-fittings", response_class=HTMLResponse)
def check_fittings(request: Request, principal: Principal = Depends(stock_keeper),
                   session: Session = Depends(get_session)) -> Response:
    addresscheck.check_pending_fittings(session, now=datetime.now(UTC), actor=principal.actor)
    return RedirectResponse("/ui/fleet", status_code=303)


@router.post("/ui/fleet/snapshot-health", response_class=HTMLResponse)
def snapshot_health(request: Request, principal: Principal = Depends(stock_keeper),
                    session: Session = Depends(get_session)) -> Response:
    """Recompute and store the health of every fitted device now (normally done daily by the CLI)."""
    health.snapshot_fleet_health(session)
    return RedirectResponse("/ui/fleet", status_code=303)


@router.get("/ui/fleet/leases", response_class=HTMLResponse)
def leases_page(request: Request, principal: Principal = Depends(lease_reader),
                session: Session = Depends(get_session)) -> Response:
    contracts = leasing.list_contracts(session)
    return render(request, "devices/leases.html", {
        "contracts": [(c, leasing.list_invoices(session, c.id)) for c in contracts],
        "tenge": leasing.format_tenge, "can_edit": principal.role is Role.ADMINISTRATOR,
        "error": request.query_params.get("error")})


def _tiyn(text: str) -> int:
    """``"3500"`` or ``"3500.50"`` tenge -> tiyn, exactly (never through a float)."""
    whole, _, cents = text.strip().replace(" ", "").replace(",", ".").partition(".")
    if not whole.isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)):
        raise LeaseError(f"not an amount in tenge: {text!r}", field="amount")
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))


@router.post("/ui/fleet/leases", response_class=HTMLResponse)
async def leases_save(request: Request, principal: Principal = Depends(administrator),
                      session: Session = Depends(get_session)) -> Response:
    """New contract, devices put under a contract, or a supplier's invoice (one line per device:
    ``serial, days, amount in tenge``), which is reconciled at once."""
    form = await request.form()
    what = str(form.get("what") or "")
    target = "/ui/fleet/leases"
    try:
        if what == "contract":
            leasing.create_contract(
                session, principal.actor, reference=str(form.get("reference") or ""),
                supplier=str(form.get("supplier") or ""), daily_rate_tiyn=_tiyn(str(form.get("daily_rate") or "")),
                start_date=date.fromisoformat(str(form.get("start_date"))),
                end_date=date.fromisoformat(str(form.get("end_date"))) if form.get("end_date") else None)
        elif what == "devices":
            serials = str(form.get("serials") or "").replace(",", " ").split()
            leasing.lease_devices(session, principal.actor, str(form.get("reference") or ""), serials)
        elif what == "invoice":
            lines = []
            for raw in str(form.get("lines") or "").splitlines():
                if raw.strip():
                    parts = [p.strip() for p in raw.split(",")]
                    if len(parts) != 3 or not parts[1].isdigit():
                        raise LeaseError(f"line {raw!r}: expected 'serial, days, amount'", field="lines")
                    lines.append(leasing.InvoiceLineInput(parts[0], int(parts[1]), _tiyn(parts[2])))
            invoice = leasing.record_invoice(
                session, principal.actor, contract=str(form.get("reference") or ""),
                number=str(form.get("number") or ""),
                period_start=date.fromisoformat(str(form.get("period_start"))),
                period_end=date.fromisoformat(str(form.get("period_end"))), lines=lines)
            leasing.reconcile_invoice(session, principal.actor, invoice.id)
            target = f"/ui/fleet/invoices/{invoice.id}"
        else:
            raise LeaseError(f"unknown form {what!r}", field="what")
    except ValueError as exc:  # lease errors and malformed dates alike
        session.rollback()
        return RedirectResponse(f"/ui/fleet/leases?error={_q(str(exc))}", status_code=303)
    return RedirectResponse(target, status_code=303)


@router.get("/ui/fleet/invoices/{invoice_id}", response_class=HTMLResponse)
def reconciliation_page(request: Request, invoice_id: int, principal: Principal = Depends(lease_reader),
                        session: Session = Depends(get_session)) -> Response:
    """The reconciliation report of one invoice (computed for viewing; recording it is a POST)."""
    invoice = leasing.get_invoice(session, invoice_id)
    report = leasing.reconcile_invoice(session, principal.actor, invoice_id, record_outcome=False)
    return render(request, "devices/reconciliation.html", {
        "invoice": invoice, "report": report, "tenge": leasing.format_tenge, "Finding": leasing.Finding})


@router.post("/ui/fleet/invoices/{invoice_id}/reconcile", response_class=HTMLResponse)
def reconcile_from_page(request: Request, invoice_id: int, principal: Principal = Depends(lease_reader),
                        session: Session = Depends(get_session)) -> Response:
    leasing.reconcile_invoice(session, principal.actor, invoice_id)
    return RedirectResponse(f"/ui/fleet/invoices/{invoice_id}", status_code=303)



@router.get("/ui/fleet/catalogue", response_class=HTMLResponse)
def catalogue_page(request: Request, principal: Principal = Depends(fleet_reader),
                   session: Session = Depends(get_session)) -> Response:
    """The approved device types and their procedures; an administrator edits them here."""
    return render(request, "devices/catalogue.html", {
        "types": catalogue.list_types(session), "seeded": catalogue.SEEDED_CODES,
        "can_edit": principal.role is Role.ADMINISTRATOR, "error": request.query_params.get("error"),
        "events": sorted(catalogue.KNOWN_EVENTS), "protocols": sorted(catalogue.KNOWN_PROTOCOLS)})


def _procedure_from_form(form: Any) -> dict[str, Any]:
    return {"fitting_checklist": str(form.get("fitting_checklist") or "").splitlines(),
            "check_interval_h": form.get("check_interval_h"), "charging_rule": form.get("charging_rule"),
            "reporting_interval_s": form.get("reporting_interval_s"),
            "events": [str(e) for e in form.getlist("events")],
            "protocols": [str(p) for p in form.getlist("protocols")]}


@router.post("/ui/fleet/catalogue", response_class=HTMLResponse)
async def catalogue_save(request: Request, principal: Principal = Depends(administrator),
                         session: Session = Depends(get_session)) -> Response:
    """Create a type (``code`` new) or edit one; ``active`` withdraws or restores approval."""
    form = await request.form()
    code = str(form.get("code") or "").strip()
    names = {k: str(form.get(k) or "") for k in ("name_ru", "name_kk", "name_en")}
    try:
        if form.get("new") == "1":
            catalogue.create_type(session, principal.actor, code=code, procedure=_procedure_from_form(form), **names)
        else:
            catalogue.update_type(session, principal.actor, code, procedure=_procedure_from_form(form),
                                  active=form.get("active") == "on", **names)
    except FleetError as exc:
        session.rollback()
        return RedirectResponse(f"/ui/fleet/catalogue?error={_q(str(exc))}#type-{_q(code)}", status_code=303)
    return RedirectResponse(f"/ui/fleet/catalogue#type-{_q(code)}", status_code=303)
