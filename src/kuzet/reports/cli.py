"""``kuzet evidence`` and ``kuzet report``: evidence packs and dashboards from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from kuzet.audit import Actor
from kuzet.settings import get_settings
from kuzet.store.context import sessions_for
from kuzet.store.db import transaction

console = Console()
evidence = typer.Typer(no_args_is_help=True, help="Court evidence packs.")
report = typer.Typer(no_args_is_help=True, help="Dashboards and statistics.")
CLI_ACTOR = Actor(None, "cli", "administrator")


@evidence.command("pack")
def pack(alert_id: int, out: Path = typer.Option(..., help="PDF file to write"),
         language: str = typer.Option("ru", help="kk or ru"),
         purpose: str = typer.Option(..., help="Why the pack is made (written to the audit trail)")) -> None:
    """Build the evidence pack of an alert."""
    from .evidence import build_evidence_pack

    with transaction(sessions_for(get_settings().database_url)) as session:
        pdf = build_evidence_pack(session, CLI_ACTOR, alert_id, language=language, purpose=purpose,
                                  now=datetime.now(UTC))
    out.write_bytes(pdf)
    console.print(f"wrote {out} ({len(pdf):,} bytes)")


@evidence.command("verify")
def verify(pdf: Path) -> None:
    """Check a pack against the store; exits 1 when any record it rests on has changed."""
    from .evidence import verify_pack

    try:
        with sessions_for(get_settings().database_url)() as session:
            result = verify_pack(session, pdf)
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {pdf}: {exc}")
        raise typer.Exit(2) from None
    for problem in result.problems:
        console.print(f"[red]{problem}[/]")
    if not result.ok:
        console.print(f"[red]FAILED[/]: {len(result.problems)} of {result.checked} records do not match")
        raise typer.Exit(1)
    console.print(f"[green]OK[/]: all {result.checked} records match the store")


@report.command("dashboard")
def dashboard(level: str = typer.Option("country", help="country, region or unit"),
              id: int = typer.Option(None, help="Region or unit id"),
              days: int = typer.Option(30, help="Period: the last N days")) -> None:
    """Print every dashboard table for a scope."""
    from datetime import timedelta

    from kuzet.domain.enums import Role

    from .dashboards import build_dashboard, resolve_scope

    end = datetime.now(UTC)
    with sessions_for(get_settings().database_url)() as session:
        scope = resolve_scope(session, Role.ADMINISTRATOR, None, None, level, id)
        dash = build_dashboard(session, scope, end - timedelta(days=days), end)
    for table in dash.tables.values():
        rt = RichTable(title=table.title)
        for c in table.columns:
            rt.add_column(c)
        for row in table.rows:
            rt.add_row(*["—" if v is None else str(v) for v in row])
        console.print(rt)
        for note in table.notes:
            console.print(f"  [dim]{note}[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(evidence, name="evidence")
    app.add_typer(report, name="report")
