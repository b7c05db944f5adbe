"""``kuzet casework ...``: the daily jobs and the documents from the command line.

``reminders`` lists registrations due, overdue and past the two-week no-show rule; ``end-expired`` ends the
supervision of people whose order has run out (recovering their devices); ``warning-pdf``,
``submission-pdf`` and ``programme-pdf`` write a document. Every command calls the same services as the API
and acts as ``cli:<login name>``, so changes and document reads are in the audit trail.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kuzet.audit import Actor
from kuzet.domain.enums import Role
from kuzet.settings import get_settings

from .errors import CaseworkError

casework_app = typer.Typer(no_args_is_help=True, help="Casework: registration reminders, expiries, documents.")
console = Console()
err = Console(stderr=True)


def _actor() -> Actor:
    return Actor(None, f"cli:{getpass.getuser()}", Role.ADMINISTRATOR.value)


def _run(work: Callable[[Any], Any]) -> Any:
    """Run ``work(session)`` in one transaction; a refused step is printed and exits with status 2."""
    from kuzet.store.context import sessions_for
    from kuzet.store.db import transaction

    try:
        with transaction(sessions_for(get_settings().database_url)) as session:
            return work(session)
    except (CaseworkError, LookupError) as exc:
        err.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(2) from None


def _today(value: str | None) -> date:
    return date.fromisoformat(value) if value else datetime.now(UTC).date()


@casework_app.command("reminders")
def reminders(today: str = typer.Option(None, help="YYYY-MM-DD (default: today in UTC)")) -> None:
    """Registrations due, overdue, or past two weeks without arrival (start a search, inform the court)."""
    from kuzet.audit.reads import record_read
    from kuzet.store.models import Person

    from .registration import registration_reminders

    day = _today(today)

    def work(session: Any) -> list[tuple[str, str, str]]:
        found = registration_reminders(session, day)
        record_read(session, _actor(), "caseload", "", purpose="registration reminders",
                    detail={"people": [r.person_id for r in found][:500]})
        return [(session.get(Person, r.person_id).code, r.kind, r.message) for r in found]

    table = Table("person", "kind", "what to do")
    for row in _run(work):
        table.add_row(*row)
    console.print(table)


@casework_app.command("end-expired")
def end_expired(today: str = typer.Option(None, help="YYYY-MM-DD (default: today in UTC)")) -> None:
    """End the supervision of everyone whose order ended before today; their devices are recovered."""
    from .ending import end_expired_orders

    ended = _run(lambda s: [(e.person_id, list(e.devices_recovered)) for e in
                            end_expired_orders(s, _actor(), _today(today), at=datetime.now(UTC))])
    for person_id, devices in ended:
        console.print(f"person {person_id}: supervision ended; devices recovered: {', '.join(devices) or 'none'}")
    console.print(f"{len(ended)} supervision(s) ended")


def _write(kind: str, record_id: int, out: Path, lang: str) -> None:
    from . import documents

    make = {"warning": documents.written_warning_pdf, "submission": documents.court_submission_pdf,
            "programme": documents.individual_programme_pdf}[kind]
    content = _run(lambda s: make(s, _actor(), record_id, lang=lang))
    out.write_bytes(content)
    console.print(f"wrote {out} ({len(content)} bytes)")


@casework_app.command("warning-pdf")
def warning_pdf(warning_id: int, out: Path, lang: str = typer.Option("kk-ru", help="kk, ru or kk-ru")) -> None:
    """Write a written warning as PDF."""
    _write("warning", warning_id, out, lang)


@casework_app.command("submission-pdf")
def submission_pdf(submission_id: int, out: Path, lang: str = typer.Option("kk-ru")) -> None:
    """Write a submission to court as PDF."""
    _write("submission", submission_id, out, lang)


@casework_app.command("programme-pdf")
def programme_pdf(person_id: int, out: Path, lang: str = typer.Option("kk-ru")) -> None:
    """Write a person's individual programme of social and legal assistance as PDF."""
    _write("programme", person_id, out, lang)


def register(app: typer.Typer) -> None:
    app.add_typer(casework_app, name="casework")
