"""``kuzet alerts ...``: the alert workflow's commands for operators and administrators.

``escalate`` and ``deliver`` run one pass of escalation or message delivery at a given time (for cron, or
to catch up); ``worker`` runs both continuously; ``queue`` prints a user's queue; ``volume`` measures alert
volume per wearer per day on bundles. They call the same service functions as the API.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _when(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise typer.BadParameter("give the time with its zone, e.g. 2026-11-02T17:05:00Z")
    return parsed.astimezone(UTC)


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(no_args_is_help=True, help="Alert workflow: escalation, notifications, queue, volume.")
    app.add_typer(alerts, name="alerts")

    @alerts.command()
    def escalate(now: str = typer.Option(None, help="The time to escalate at (UTC, ISO 8601); default now")) -> None:
        """Escalate every open alert whose response-time target has been missed."""
        from kuzet.settings import get_settings
        from kuzet.store.context import sessions_for
        from kuzet.store.db import transaction

        from .escalation import run_escalations

        with transaction(sessions_for(get_settings().database_url)) as session:
            steps = run_escalations(session, _when(now))
        for step in steps:
            console.print(f"alert {step.alert_id}: {step.reason}, level {step.level}, "
                          f"{len(step.recipients)} recipient(s)")
        console.print(f"{len(steps)} escalation step(s)")

    @alerts.command()
    def deliver(now: str = typer.Option(None, help="The time to deliver at (UTC, ISO 8601); default now")) -> None:
        """Send (or retry) every message that is due."""
        from kuzet.settings import get_settings
        from kuzet.store.context import sessions_for
        from kuzet.store.db import transaction

        from .notifications import deliver_pending

        with transaction(sessions_for(get_settings().database_url)) as session:
            run = deliver_pending(session, _when(now))
        console.print(f"sent {run.sent}, retrying {run.retrying}, failed {run.failed}")

    @alerts.command()
    def worker(interval: float = typer.Option(10.0, help="Seconds between passes")) -> None:
        """Run escalation and delivery continuously until interrupted."""
        from kuzet.settings import get_settings
        from kuzet.store.context import sessions_for

        from .notifications import run_alert_worker

        async def main() -> None:
            stop = asyncio.Event()
            await run_alert_worker(sessions_for(get_settings().database_url), stop,
                                   interval=timedelta(seconds=interval))

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    @alerts.command()
    def queue(as_user: str = typer.Option(..., "--as", help="Username whose queue (and scope) to show")) -> None:
        """Print a user's alert queue: most severe first, then oldest first."""
        from kuzet.auth.service import find_user, principal_for
        from kuzet.settings import get_settings
        from kuzet.store.context import sessions_for
        from kuzet.store.db import transaction

        from .workflow import alert_queue

        with transaction(sessions_for(get_settings().database_url)) as session:
            user = find_user(session, as_user)
            if user is None:
                raise typer.BadParameter(f"no user {as_user!r}")
            items = alert_queue(session, principal_for(user), datetime.now(UTC))
            table = Table("id", "severity", "type", "subject", "raised", "status", "incident", "overdue")
            for i in items:
                table.add_row(str(i.alert.id), i.alert.severity, i.alert.type, i.alert.subject_code,
                              i.alert.raised_at.isoformat(timespec="minutes"), i.alert.status,
                              str(i.incident_id or ""), "yes" if i.overdue else "")
        console.print(table)

    @alerts.command()
    def volume(
        bundles: list[Path] = typer.Argument(..., help="Bundle directories (with alerts.ndjson, e.g. from replay)"),
        truth: bool = typer.Option(False, help="Count truth.ndjson instead of alerts.ndjson"),
        engine: str = typer.Option(None, help="Replay the bundle with this engine (kuzet or naive) and count that"),
    ) -> None:
        """Alerts and incidents per wearer per day on bundles (docs/quality.md, 'Alert volume')."""
        from kuzet.exchange import BundleError, read_bundle

        from .volume import bundle_volume

        table = Table(title=f"alert volume ({'truth' if truth else engine or 'alerts.ndjson'})")
        for column in ("bundle", "wearers", "days", "alerts", "per wearer-day", "incidents", "per wearer-day"):
            table.add_column(column)
        for path in bundles:
            try:
                bundle = read_bundle(path, with_truth=truth)
            except BundleError as exc:
                raise typer.BadParameter(str(exc)) from None
            chosen = bundle.truth if truth else None
            if engine:
                from kuzet.engine import replay

                try:
                    chosen = replay(bundle, engine=engine)
                except ValueError as exc:
                    raise typer.BadParameter(str(exc)) from None
            v = bundle_volume(bundle, alerts=chosen)
            table.add_row(path.name, str(v.wearers), f"{v.days:.2f}", str(v.alerts), f"{v.alerts_per_wearer_day:.2f}",
                          str(v.incidents), f"{v.incidents_per_wearer_day:.2f}")
        console.print(table)
