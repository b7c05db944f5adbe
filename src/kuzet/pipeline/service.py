"""Run the pipeline's processes: everything in one process (``kuzet serve``), or the gateway and monitors apart.

``kuzet serve`` on the embedded default runs the web application, the device gateway, the embedded journal and
one monitor over every partition in one asyncio process. At scale ``kuzet gateway`` and
``kuzet monitor --partitions ...`` run as separate processes on NATS JetStream and PostgreSQL.

This module only wires components together; it holds no rules and no SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from kuzet.journal.base import DEFAULT_PARTITIONS, Journal, JournalUnavailable, open_journal
from kuzet.settings import Settings

log = logging.getLogger("kuzet.pipeline")


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    web: bool = True
    gateway: bool = True
    monitor: bool = True
    #: Partitions this process's monitor owns (``None``: all of them).
    partitions: tuple[int, ...] | None = None
    #: JetStream stream name (``KUZET_JOURNAL_STREAM``); one per deployment.
    stream: str = "KUZET"
    journal_partitions: int = DEFAULT_PARTITIONS
    #: Run the alert worker (escalations, deliveries) and the periodic jobs here. Exactly one process of a
    #: deployment does: ``kuzet serve`` (``None`` means "when this process serves the web application");
    #: ``kuzet monitor --alert-worker`` only for a deployment that runs no ``kuzet serve``.
    alert_worker: bool | None = None
    host: str | None = None
    port: int | None = None
    migrate: bool = False


def parse_partitions(text: str, total: int) -> tuple[int, ...] | None:
    """``all``, ``3``, ``0-3`` or ``0,2,5-7`` → the partition numbers (``None`` for all).

    >>> parse_partitions("0,2,5-6", 8)
    (0, 2, 5, 6)
    """
    if text.strip() in ("", "all", "*"):
        return None
    chosen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            chosen.update(range(lo, hi + 1))
        else:
            chosen.add(int(part))
    bad = sorted(p for p in chosen if not 0 <= p < total)
    if bad:
        raise ValueError(f"partitions {bad} do not exist: the journal has partitions 0-{total - 1}")
    return None if len(chosen) == total else tuple(sorted(chosen))


def monitor_name(options: PipelineOptions, journal_url: str) -> str:
    if options.partitions is None:
        return "embedded" if not journal_url.startswith("nats") else f"monitor-all-of-{options.journal_partitions}"
    spec = "_".join(str(p) for p in options.partitions)
    return f"monitor-{spec}-of-{options.journal_partitions}"


def options_from_env(**overrides: Any) -> PipelineOptions:
    base: dict[str, Any] = {
        "stream": os.environ.get("KUZET_JOURNAL_STREAM", "KUZET"),
        "journal_partitions": int(os.environ.get("KUZET_JOURNAL_PARTITIONS", DEFAULT_PARTITIONS)),
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    return PipelineOptions(**base)


def announce(event: str, **detail: Any) -> None:
    """One JSON line on stdout per lifecycle event, for operators' supervisors and for the fault tests."""
    sys.stdout.write(orjson.dumps({"event": event, **detail}).decode() + "\n")
    sys.stdout.flush()


async def _start_journal(journal: Journal, stop: asyncio.Event) -> bool:
    while not stop.is_set():
        try:
            await journal.start()
            return True
        except JournalUnavailable as exc:
            log.warning("journal not reachable yet: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return False


def make_gateway(settings: Settings, journal: Journal) -> Any:
    """The device gateway writing into ``journal`` (it acknowledges a frame only once ``append`` returned)."""
    from kuzet.gateway import Gateway

    return Gateway(sink=journal, settings=settings)


async def run_pipeline(settings: Settings, options: PipelineOptions, stop: asyncio.Event | None = None) -> None:
    """Run the chosen components until ``stop`` is set or the process gets SIGINT/SIGTERM."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if options.migrate:
        from kuzet.store.migrate import upgrade

        await asyncio.to_thread(upgrade, settings.database_url)
    journal = open_journal(settings.journal_url, var_dir=str(settings.var_dir),
                           partitions=options.journal_partitions, stream=options.stream)
    tasks: list[asyncio.Task[Any]] = []
    gateway: Any = None
    server: Any = None
    monitor: Any = None
    if not await _start_journal(journal, stop):
        return
    try:
        if options.monitor:
            from kuzet.monitor.service import Monitor
            from kuzet.store.context import sessions_for

            monitor = Monitor(sessions_for(settings.database_url), journal,
                              name=monitor_name(options, settings.journal_url), partitions=options.partitions)
            tasks.append(asyncio.create_task(monitor.run(stop), name="monitor"))
        if options.gateway:
            gateway = make_gateway(settings, journal)
            await gateway.start()
        if options.web:
            import uvicorn

            from kuzet.web.app import create_app

            config = uvicorn.Config(create_app(settings), host=options.host or settings.host,
                                    port=options.port or settings.port, log_level="warning", lifespan="on")
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None
            tasks.append(asyncio.create_task(server.serve(), name="web"))
        if monitor is not None:
            await asyncio.wait([asyncio.create_task(monitor.ready.wait()), asyncio.create_task(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
        if options.web if options.alert_worker is None else options.alert_worker:
            # Started once the monitor is ready, so that they never slow its start-up.
            from datetime import timedelta

            from kuzet.alerts.notifications import run_alert_worker
            from kuzet.pipeline.jobs import JobScheduler
            from kuzet.store.context import sessions_for

            tasks.append(asyncio.create_task(run_alert_worker(sessions_for(settings.database_url), stop),
                                             name="alert-worker"))
            scheduler = JobScheduler(sessions_for(settings.database_url), start_delay=timedelta(minutes=2))
            tasks.append(asyncio.create_task(scheduler.run(stop), name="jobs"))
        announce("ready", pid=os.getpid(), web=options.web, monitor=options.monitor,
                 gateway=dict(gateway.ports) if gateway is not None else None,
                 journal=settings.journal_url.split("://")[0], partitions=options.partitions)
        await stop.wait()
    finally:
        stop.set()
        if gateway is not None:
            with contextlib.suppress(Exception):
                await gateway.stop()
        if server is not None:
            server.should_exit = True
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await journal.close()
        announce("stopped", pid=os.getpid())
