"""``kuzet gateway`` and ``kuzet monitor``: the pipeline's processes, run apart for scale-out."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def gateway(
        stream: str = typer.Option(None, help="JetStream stream name (default KUZET_JOURNAL_STREAM or KUZET)"),
        journal_partitions: int = typer.Option(None, help="Number of device partitions in the journal"),
    ) -> None:
        """Run the device gateway alone, writing into the journal (KUZET_JOURNAL_URL=nats://...)."""
        from kuzet.pipeline.service import options_from_env, run_pipeline, run_service
        from kuzet.settings import get_settings

        options = options_from_env(web=False, gateway=True, monitor=False, stream=stream,
                                   journal_partitions=journal_partitions)
        run_service(run_pipeline(get_settings(), options))

    @app.command()
    def monitor(
        partitions: str = typer.Option("all", help="Partitions to consume: all, 3, 0-3 or 0,2,5-7"),
        stream: str = typer.Option(None, help="JetStream stream name (default KUZET_JOURNAL_STREAM or KUZET)"),
        journal_partitions: int = typer.Option(None, help="Number of device partitions in the journal"),
        alert_worker: bool = typer.Option(False, help="Also run the alert worker and the periodic jobs (only in a "
                                          "deployment without kuzet serve: exactly one process may run them)"),
        parent_pid: int = typer.Option(None, hidden=True, help="Exit when this process is gone (kuzet serve's "
                                       "monitor process)"),
    ) -> None:
        """Run a monitor over some journal partitions: engine, positions, alert episodes, checkpoints."""
        from kuzet.pipeline.service import options_from_env, parse_partitions, run_pipeline, run_service
        from kuzet.settings import get_settings

        options = options_from_env(web=False, gateway=False, monitor=True, stream=stream,
                                   journal_partitions=journal_partitions)
        try:
            chosen = parse_partitions(partitions, options.journal_partitions)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        options = options_from_env(web=False, gateway=False, monitor=True, stream=stream,
                                   journal_partitions=journal_partitions, partitions=chosen,
                                   alert_worker=alert_worker, parent_pid=parent_pid)
        run_service(run_pipeline(get_settings(), options))
