"""``kuzet gateway-store`` and ``kuzet device-command``: the gateway straight into the database, and commands.

``kuzet gateway`` (the pipeline's process) runs the same listeners writing into the journal; ``gateway-store``
runs them with the store sink, for deployments without the journal and for development.
"""

from __future__ import annotations

import asyncio
import json
import signal

import typer


def register(app: typer.Typer) -> None:
    @app.command("gateway-store")
    def gateway_store() -> None:
        """Run every device listener with reports written straight into the database (no journal).

        Ports: KUZET_GATEWAY_<PROTOCOL>_PORT (teltonika 5027, gt06 5023, h02 5013, watch 5093, osmand 5055,
        kuzet_tcp 5070, kuzet_https 5443; "off" disables one); TLS: KUZET_GATEWAY_TLS_CERT and _KEY.
        """
        from kuzet.settings import get_settings
        from kuzet.store.context import sessions_for

        from .service import Gateway
        from .sink import StoreSink

        settings = get_settings()

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            sink = StoreSink(sessions_for(settings.database_url))
            gateway = Gateway(sink, settings)
            await gateway.start()
            typer.echo(json.dumps({"event": "ready", "ports": gateway.ports}))
            await stop.wait()
            await gateway.stop()
            await sink.close()

        from kuzet.pipeline.service import run_service

        run_service(main())

    @app.command("device-command")
    def device_command(
        serial: str = typer.Argument(..., help="Device serial"),
        kind: str = typer.Argument("locate", help="locate, message or text"),
        text: str = typer.Option("", help="Text for message/text commands"),
    ) -> None:
        """Queue a command (default: locate now) for a device; it is sent when the device next connects."""
        from kuzet.settings import get_settings
        from kuzet.store.context import sessions_for
        from kuzet.store.db import transaction

        from .directory import queue_command

        try:
            with transaction(sessions_for(get_settings().database_url)) as session:
                command = queue_command(session, serial, kind, {"text": text} if text else None)
                typer.echo(f"queued command {command.id} ({kind}) for {serial}")
        except (LookupError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
