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

    @app.command("synth-quality")
    def synth_quality_cmd(
        seeds: int = typer.Option(3, help="How many seeds per noise level"),
        subjects: int = typer.Option(4, help="Subjects per scenario"),
        days: float = typer.Option(1.0, help="Days per scenario"),
        levels: str = typer.Option("0.2,0.5,0.9", help="Noise levels, comma-separated (0 open sky, 1 dense city)"),
    ) -> None:
        """Score kuzet and naive on synthetic scenarios with ground truth; print a Markdown table."""
        from kuzet.engine import replay, score
        from kuzet.engine.replay import bundle_days
        from kuzet.engine.synth import Noise, scenario

        typer.echo("| seed | noise | engine | precision | recall | p95 latency s | max latency s "
                   "| alerts/wearer/day |")
        typer.echo("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for level in (float(x) for x in levels.split(",")):
            for seed in range(seeds):
                bundle = scenario(seed, subjects=subjects, days=days, noise=Noise(level=level))
                for engine in ("kuzet", "naive"):
                    r = score(bundle.truth, replay(bundle, engine=engine), bundle.plan, days=bundle_days(bundle))
                    p95 = "n/a" if r.p95_latency_s is None else f"{r.p95_latency_s:.0f}"
                    mx = f"{max(r.latencies_s):.0f}" if r.latencies_s else "n/a"
                    typer.echo(f"| {seed} | {level} | {engine} | {r.precision:.3f} | {r.recall:.3f} | {p95} | {mx} "
                               f"| {r.alerts_per_wearer_day:.2f} |")

