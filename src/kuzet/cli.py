"""The ``kuzet`` command line: one entry point for operators and for development.

Capabilities add their commands through ``register(app)`` functions listed in ``COMMAND_MODULES``; every
command calls the same service functions as the API.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer
from rich.console import Console

from kuzet.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Kuzet electronic monitoring platform.")
console = Console()
err = Console(stderr=True)


@app.command()
def migrate(revision: str = typer.Argument("heads", help="Target revision")) -> None:
    """Create or upgrade the database schema."""
    from kuzet.store.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    console.print(f"[green]database at {revision}[/]")


@app.command("import")
def import_(
    bundle: Path = typer.Argument(..., help="Exchange-format bundle directory"),
    region: str = typer.Option("IMPORT", help="Region code the subjects are registered under"),
) -> None:
    """Import an exchange-format bundle (scenario.json, reports.ndjson, alerts.ndjson)."""
    from kuzet.exchange import BundleError, read_bundle
    from kuzet.exchange.store_io import import_bundle
    from kuzet.store.context import sessions_for
    from kuzet.store.db import transaction

    try:
        data = read_bundle(bundle)
    except BundleError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        with transaction(sessions_for(get_settings().database_url)) as session:
            counts = import_bundle(session, data, region_code=region)
    except ValueError as exc:
        err.print(f"[red]error:[/] {bundle}: {exc}")
        raise typer.Exit(2) from None
    console.print(f"imported {counts['subjects']} subjects, {counts['reports']} reports, {counts['alerts']} alerts")


@app.command()
def export(
    directory: Path = typer.Argument(..., help="Directory to write the bundle into"),
    subject: list[str] = typer.Option(None, help="Only these subject codes (repeatable)"),
) -> None:
    """Export the store (or some subjects) as an exchange-format bundle."""
    from kuzet.exchange import write_bundle
    from kuzet.exchange.store_io import export_bundle
    from kuzet.store.context import sessions_for
    from kuzet.store.db import transaction

    with transaction(sessions_for(get_settings().database_url)) as session:
        data = export_bundle(session, person_codes=subject or None)
    write_bundle(directory, data)
    console.print(f"wrote {len(data.plan.subjects)} subjects, {len(data.reports)} reports, "
                  f"{len(data.alerts)} alerts to {directory}")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default from settings)"),
    port: int = typer.Option(None, help="Port (default from settings)"),
    gateway: bool = typer.Option(True, help="Run the device gateway in this process"),
    monitor: bool = typer.Option(True, help="Run the monitor (engine, positions, alerts)"),
    monitor_process: bool = typer.Option(True, "--monitor-process/--monitor-in-process",
                                         help="Run the monitor in a child process (its own core) or in this one"),
    migrate: bool = typer.Option(True, help="Upgrade the schema before starting"),
) -> None:
    """Run the web application and API, the device gateway, the journal and the monitor (in a child process)."""
    from kuzet.pipeline.service import options_from_env, run_pipeline, run_service

    options = options_from_env(web=True, gateway=gateway, monitor=monitor, host=host, port=port, migrate=migrate,
                               monitor_process=monitor_process)
    run_service(run_pipeline(get_settings(), options))


COMMAND_MODULES: tuple[str, ...] = (
    "kuzet.simulator.cli",
    "kuzet.monitor.cli",
    "kuzet.web.cli",
    "kuzet.devices.cli",
    "kuzet.privacy.cli",
    "kuzet.engine.cli",
    "kuzet.alerts.cli",
    "kuzet.gateway.cli",
    "kuzet.reports.cli",
    "kuzet.casework.cli",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
