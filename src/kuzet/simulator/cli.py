"""``kuzet simulate``: write a simulated region as a bundle, or drive the live gateway with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        out: Path = typer.Option(None, help="Write an exchange-format bundle (with truth.ndjson) here"),
        wearers: int = typer.Option(30, min=1, help="People under supervision"),
        hours: float = typer.Option(24.0, min=0.01, help="Simulated span in hours"),
        seed: int = typer.Option(1, help="Random seed: the same seed gives the same region"),
        start: str = typer.Option(None, help="Start of the simulated span (RFC 3339, default: now - hours)"),
        live: bool = typer.Option(False, help="Register the simulated people in the configured database (once) and "
                                              "drive the running gateway over the real protocols"),
        speed: float = typer.Option(1.0, min=0.1, help="Live: simulated seconds per wall-clock second (device "
                                                      "clocks run with the simulation)"),
        minutes: float = typer.Option(None, help="Live: stop after this many minutes"),
        truth: bool = typer.Option(True, help="Bundle: also compute truth.ndjson (slow for very large regions)"),
    ) -> None:
        """Simulate people under supervision in Almaty, Astana and Shymkent."""
        from kuzet.domain.timeutil import parse_utc

        begin = parse_utc(start) if start else datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
        if live:
            from kuzet.settings import get_settings

            from .demo import drive, prepare

            settings = get_settings()
            live_start = datetime.now(UTC).replace(microsecond=0)
            setup = prepare(settings, wearers=wearers, start=live_start, fresh=False)
            drive(settings, setup, wearers=wearers, minutes=minutes, speed=speed)
            return
        if out is None:
            raise typer.BadParameter("give --out DIR for a bundle, or --live")
        from .bundle import generate, write

        bundle = generate(seed, wearers, begin, hours, with_truth=truth)
        write(out, bundle)
        console.print(f"wrote {len(bundle.plan.subjects)} subjects, {len(bundle.reports)} reports and "
                      f"{len(bundle.truth)} true episodes to {out}")

    @app.command()
    def demo(
        wearers: int = typer.Option(24, min=3, help="People under supervision"),
        minutes: float = typer.Option(None, help="Stop after this many minutes (default: run until Ctrl-C)"),
        keep: bool = typer.Option(False, help="Keep the existing demo database instead of starting fresh"),
    ) -> None:
        """Fresh SQLite database, seeded region, the service and a live simulated fleet; prints the logins."""
        from kuzet.settings import get_settings

        from .demo import run_demo

        run_demo(get_settings(), wearers=wearers, minutes=minutes, fresh=not keep)
