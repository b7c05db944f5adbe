"""Run the pipeline's processes: everything in one process (``kuzet serve``), or the gateway and monitors apart.

``kuzet serve`` on the embedded default runs the web application, the device gateway and the embedded journal in
one asyncio process, and one monitor over every partition in a child process that it supervises (restarted if it
dies, stopped with it; the child exits at once if its parent is gone), so that the gateway and the monitor each
get a core of their own (``--monitor-in-process`` keeps everything in one process). At scale ``kuzet gateway`` and
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
import time
from collections.abc import Coroutine
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
    #: Run the monitor as a supervised child process (``kuzet monitor``) instead of in this process.
    monitor_process: bool = False
    #: Set in such a child: its parent's pid. The child exits as soon as that parent is gone.
    parent_pid: int | None = None


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


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived service coroutine on uvloop (libuv's event loop: the gateway's sockets, the journal's
    wake-ups and the monitor's thread hand-offs cost several times less than on the standard loop)."""
    import uvloop

    uvloop.run(main)


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


class MonitorProcess:
    """The monitor as a child process of ``kuzet serve``: started, watched, restarted, stopped.

    The child is ``kuzet monitor`` with the same settings (environment and working directory are inherited); it
    reads the journal from the file (embedded) or the server (NATS) and confirms its checkpoints there. Its
    ``ready`` line on stdout sets :attr:`ready`. If it dies it is started again after a pause; on stop it gets
    SIGTERM, and SIGKILL if it has not finished its transaction and exited within ``stop_timeout_s``.
    """

    def __init__(self, options: PipelineOptions, *, restart_s: float = 1.0, stop_timeout_s: float = 20.0) -> None:
        self.options = options
        self.restart_s = restart_s
        self.stop_timeout_s = stop_timeout_s
        self.ready = asyncio.Event()
        self.pid: int | None = None
        self.restarts = 0

    def command(self) -> list[str]:
        o = self.options
        cmd = [sys.executable, "-m", "kuzet.cli", "monitor", "--parent-pid", str(os.getpid()),
               "--stream", o.stream, "--journal-partitions", str(o.journal_partitions)]
        if o.partitions is not None:
            cmd += ["--partitions", ",".join(str(p) for p in o.partitions)]
        return cmd

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.restart_s
        while not stop.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(*self.command(), stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE)
            self.pid = proc.pid
            reading = asyncio.create_task(self._read(proc))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([reading, stopping], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await self._stop(proc)
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
                return
            stopping.cancel()
            code = await proc.wait()
            self.restarts += 1
            delay = next_restart_delay(delay, time.monotonic() - started, self.restart_s)
            log.warning("the monitor process %s exited with code %s; starting it again in %.0f s", proc.pid, code,
                        delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            with contextlib.suppress(ValueError):
                if orjson.loads(line).get("event") == "ready":
                    self.ready.set()

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), self.stop_timeout_s)
        except TimeoutError:
            log.warning("the monitor process %s did not stop in %.0f s; killing it", proc.pid, self.stop_timeout_s)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def next_restart_delay(previous: float, lived_s: float, base: float, *, stable_s: float = 60.0,
                       most: float = 30.0) -> float:
    """Pause before starting a dead child again: ``base`` after a child that ran for ``stable_s`` or more,
    doubling (up to ``most``) while children keep dying soon after they start (a bad setting, a store that
    is not there), so that a crash loop does not spin.

    >>> [next_restart_delay(d, 2.0, 1.0) for d in (1.0, 2.0, 16.0, 30.0)], next_restart_delay(30.0, 600.0, 1.0)
    ([2.0, 4.0, 30.0, 30.0], 1.0)
    """
    return base if lived_s >= stable_s else min(most, previous * 2)


async def _exit_with_parent(parent_pid: int) -> None:
    """In a child of ``kuzet serve``: end this process the moment the parent is gone (killed, even with -9),
    so that a restarted ``kuzet serve`` never finds an orphaned monitor working beside its new one. Nothing is
    lost by the abrupt exit: the monitor's work is transactional, as after any crash."""
    while True:
        if os.getppid() != parent_pid:
            log.error("kuzet serve (pid %s) is gone; this monitor process exits", parent_pid)
            os._exit(75)
        await asyncio.sleep(0.1)


def make_gateway(settings: Settings, journal: Journal) -> Any:
    """The device gateway writing into ``journal`` (it acknowledges a frame only once ``append`` returned)."""
    from kuzet.gateway import Gateway

    return Gateway(sink=journal, settings=settings)


async def run_pipeline(settings: Settings, options: PipelineOptions, stop: asyncio.Event | None = None) -> None:
    """Run the chosen components until ``stop`` is set or the process gets SIGINT/SIGTERM."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sig == signal.SIGINT and options.parent_pid is not None:
            # Ctrl-C in a terminal reaches the whole process group: the parent stops this child (SIGTERM) once
            # it has stopped taking reports, so the child must not stop on its own first.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            continue
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
    monitor_ready: asyncio.Event | None = None
    if options.parent_pid is not None:
        tasks.append(asyncio.create_task(_exit_with_parent(options.parent_pid), name="parent-watch"))
    if not await _start_journal(journal, stop):
        return
    try:
        if options.monitor and options.monitor_process:
            child = MonitorProcess(options)
            monitor_ready = child.ready
            tasks.append(asyncio.create_task(child.run(stop), name="monitor-process"))
        elif options.monitor:
            from kuzet.monitor.service import Monitor
            from kuzet.store.context import sessions_for

            monitor = Monitor(sessions_for(settings.database_url), journal,
                              name=monitor_name(options, settings.journal_url), partitions=options.partitions)
            monitor_ready = monitor.ready
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
        if monitor_ready is not None:
            await asyncio.wait([asyncio.create_task(monitor_ready.wait()), asyncio.create_task(stop.wait())],
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
                 monitor_pid=child.pid if options.monitor and options.monitor_process else None,
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
            if task.get_name() == "parent-watch":
                task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 25 if task.get_name() == "monitor-process" else 10)
        await journal.close()
        announce("stopped", pid=os.getpid())
