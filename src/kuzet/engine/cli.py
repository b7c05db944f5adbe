"""``kuzet replay`` and ``kuzet score``: run the engine over an exchange bundle and score it against truth.

Thin glue over :func:`kuzet.engine.replay` and :func:`kuzet.engine.score`; all file reading is here.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        bundle: Path = typer.Argument(..., help="Exchange-format bundle directory"),
        out: Path = typer.Option(None, "--out", help="Where to write alerts.ndjson (default BUNDLE/alerts.ndjson)"),
        engine: str = typer.Option("kuzet", "--engine", help="kuzet (the monitoring engine) or naive (per-fix)"),
    ) -> None:
        """Replay a bundle's reports in arrival order (clock = received) and write the alert episodes."""
        from kuzet.engine import replay
        from kuzet.exchange import BundleError, read_bundle
        from kuzet.exchange.bundle import write_ndjson

        if engine not in ("kuzet", "naive"):
            err.print(f"[red]error:[/] unknown engine {engine!r} (kuzet or naive)")
            raise typer.Exit(2)
        try:
            data = read_bundle(bundle)
        except BundleError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        alerts = replay(data, engine=engine)
        target = out or (bundle / "alerts.ndjson")
        write_ndjson(target, (a.to_json() for a in alerts))
        console.print(f"{len(alerts)} alert episodes from {len(data.reports)} reports written to {target}")

    @app.command("score")
    def score_cmd(
        bundle: Path = typer.Argument(..., help="Bundle directory with truth.ndjson"),
        alerts: Path = typer.Argument(..., help="alerts.ndjson to score"),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object"),
    ) -> None:
        """Score alerts against the bundle's truth: precision, recall, p95 latency, alerts per wearer-day."""
        from kuzet.engine import score
        from kuzet.engine.replay import bundle_days
        from kuzet.exchange import BundleError, read_bundle
        from kuzet.exchange.bundle import read_alerts

        try:
            data = read_bundle(bundle, with_truth=True)
            episodes = read_alerts(alerts)
        except BundleError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        if not (bundle / "truth.ndjson").exists():
            err.print(f"[red]error:[/] {bundle}: no truth.ndjson to score against")
            raise typer.Exit(2)
        result = score(data.truth, episodes, data.plan, days=bundle_days(data))
        if as_json:
            typer.echo(orjson.dumps(result.to_json()).decode())
            return
        p95 = "n/a" if result.p95_latency_s is None else f"{result.p95_latency_s:.0f} s"
        console.print(f"precision {result.precision:.3f}  recall {result.recall:.3f}  p95 latency {p95}  "
                      f"alerts/wearer/day {result.alerts_per_wearer_day:.2f}  "
                      f"({result.matched} matched, {result.false_alerts} false, {len(result.missed)} missed, "
                      f"{result.ambiguous_only} on ambiguous truth)")
