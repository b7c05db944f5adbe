"""``kuzet devices ...``: the fleet from the command line (stock keeping, checks, forecasts, invoices).

Every command calls the same service functions as the API and acts as ``cli:<login name>`` with the
administrator's scope, so every change is in the audit trail. Fitting is not offered here: it needs the
signed fitting record, which is made in the UI or through the API.
"""

from __future__ import annotations

import csv
import getpass
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kuzet.audit import Actor
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.settings import get_settings

from .errors import FleetError

devices_app = typer.Typer(no_args_is_help=True, help="The device fleet: stock, health, forecasts, leases.")
console = Console()
err = Console(stderr=True)


def _actor() -> Actor:
    return Actor(None, f"cli:{getpass.getuser()}", Role.ADMINISTRATOR.value)


def _principal() -> Principal:
    return Principal(user_id=0, username=f"cli:{getpass.getuser()}", role=Role.ADMINISTRATOR)


def _run(work: Callable[[Any], Any]) -> Any:
    """Run ``work(session)`` in one transaction; a refused step is printed and exits with status 2."""
    from kuzet.store.context import sessions_for
    from kuzet.store.db import transaction

    try:
        with transaction(sessions_for(get_settings().database_url)) as session:
            return work(session)
    except (FleetError, LookupError) as exc:
        err.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(2) from None


@devices_app.command("register")
def register_device_command(serial: str, type_code: str = typer.Option(..., "--type", help="Catalogue type code"),
                            unit: str = typer.Option(..., help="Unit code holding the stock"),
                            firmware: str = typer.Option(""), protocol: str = typer.Option(None)) -> None:
    """Take a new device into stock at a unit."""
    from .lifecycle import register_device

    _run(lambda s: register_device(s, _actor(), serial=serial, type_code=type_code, unit=unit,
                                   protocol=protocol, firmware=firmware))
    console.print(f"{serial} in stock at {unit}")


@devices_app.command("list")
def list_(status: str = typer.Option(None), unit: str = typer.Option(None),
          type_code: str = typer.Option(None, "--type")) -> None:
    """Devices with their state, unit and wearer."""
    from .queries import list_devices

    rows = _run(lambda s: list_devices(s, _principal(), status=status, unit=unit, type_code=type_code))
    table = Table("serial", "type", "status", "unit", "firmware", "wearer")
    for d in rows:
        table.add_row(d.serial, d.type_code, d.status, d.unit_code or "", d.firmware, d.person_code or "")
    console.print(table)


@devices_app.command("stock")
def stock() -> None:
    """Devices per unit and type, by state."""
    from .queries import stock_by_unit

    table = Table("unit", "type", "counts")
    for row in _run(lambda s: stock_by_unit(s, _principal())):
        table.add_row(row.unit_code, row.type_code, ", ".join(f"{k} {v}" for k, v in sorted(row.counts.items())))
    console.print(table)


@devices_app.command("show")
def show(serial: str) -> None:
    """A device's state, fittings and history as JSON."""
    from .queries import device_page

    console.print_json(json.dumps(_run(lambda s: device_page(s, _principal(), serial).to_json())))


@devices_app.command("step")
def step(serial: str, action: str = typer.Argument(..., help="remove, return_to_stock, send_to_repair, "
                                                       "report_lost, report_found, write_off, move"),
         text: str = typer.Option("", help="reason, fault, circumstances or note"),
         unit: str = typer.Option(None, help="target unit for move / report_found")) -> None:
    """Take one lifecycle step (impossible steps are refused with the reason)."""
    from .lifecycle import take_step

    event = _run(lambda s: take_step(s, _actor(), serial, action, text=text, unit=unit))
    console.print(f"{serial}: {event.from_status} -> {event.to_status}")


@devices_app.command("health")
def health_(days: int = typer.Option(7), all_devices: bool = typer.Option(False, "--all")) -> None:
    """Health of fitted devices; by default only those with a flag."""
    from .health import fleet_health

    result = _run(lambda s: fleet_health(s, now=datetime.now(UTC), window=timedelta(days=days)))
    table = Table("serial", "type", "faulty", "flags")
    for h in result:
        if h.flags or all_devices:
            table.add_row(h.serial, h.type_code, "yes" if h.faulty else "", "; ".join(f.message for f in h.flags))
    console.print(table)


@devices_app.command("snapshot-health")
def snapshot_health(days: int = typer.Option(7)) -> None:
    """Store today's health of every fitted device (run daily, for trends)."""
    from .health import snapshot_fleet_health

    count = _run(lambda s: snapshot_fleet_health(s, window=timedelta(days=days)))
    console.print(f"stored {count} health snapshots")


@devices_app.command("check-fittings")
def check_fittings() -> None:
    """Judge pending fittings: do the devices' first reports come from the wearers' homes?"""
    from .addresscheck import check_pending_fittings

    checks = _run(lambda s: check_pending_fittings(s, now=datetime.now(UTC), actor=_actor()))
    for verdict in sorted({c.verdict for c in checks}):
        console.print(f"{verdict.value}: {sum(1 for c in checks if c.verdict is verdict)}")
    if not checks:
        console.print("no pending fitting")


@devices_app.command("forecast")
def forecast_(weeks: int = typer.Option(12), horizon: int = typer.Option(8)) -> None:
    """Devices needed per region and type from the caseload trend."""
    from .forecast import stock_forecast

    table = Table("region", "type", "fitted", "trend/week", "projected", "reserve", "in stock", "shortfall")
    for f in _run(lambda s: stock_forecast(s, weeks=weeks, horizon_weeks=horizon)):
        table.add_row(f.region_code, f.type_code, str(f.fitted_now), f"{f.slope_per_week:+.1f}", str(f.projected),
                      str(f.reserve), str(f.in_stock), str(f.shortfall))
    console.print(table)


@devices_app.command("invoice")
def invoice(contract: str, number: str, period_start: str, period_end: str,
            lines_csv: Path = typer.Argument(..., help="CSV with columns device,days_billed,amount_tiyn")) -> None:
    """Record a supplier's invoice from a CSV file and reconcile it at once."""
    from .leasing import InvoiceLineInput, reconcile_invoice, record_invoice

    with lines_csv.open(newline="", encoding="utf-8") as fh:
        lines = [InvoiceLineInput(row["device"], int(row["days_billed"]), int(row["amount_tiyn"]))
                 for row in csv.DictReader(fh)]

    def work(s: Any) -> dict[str, Any]:
        recorded = record_invoice(s, _actor(), contract=contract, number=number,
                                  period_start=date.fromisoformat(period_start),
                                  period_end=date.fromisoformat(period_end), lines=lines)
        return reconcile_invoice(s, _actor(), recorded.id).to_json()

    console.print_json(json.dumps(_run(work)))


@devices_app.command("reconcile")
def reconcile(invoice_id: int) -> None:
    """Reconcile a recorded invoice against the days each device was really fitted (JSON report)."""
    from .leasing import reconcile_invoice

    console.print_json(json.dumps(_run(lambda s: reconcile_invoice(s, _actor(), invoice_id).to_json())))


def register(app: typer.Typer) -> None:
    """Entry point for :data:`kuzet.cli.COMMAND_MODULES`."""
    app.add_typer(devices_app, name="devices")
