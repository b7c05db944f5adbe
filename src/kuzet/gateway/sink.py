"""Where the gateway puts reports before it acknowledges them: a :class:`ReportSink`.

The gateway acknowledges a device only after ``append`` has returned: on return the reports are durable. A sink
that cannot make them durable raises :class:`SinkUnavailable` (any other exception is treated the same way), and
the device keeps its buffer and sends again. :class:`StoreSink` writes straight into the database; the journal
implements the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.domain.reports import DeviceReport
from kuzet.store.db import transaction
from kuzet.store.models import Assignment, Device
from kuzet.store.reports import report_to_record, store_reports


class SinkUnavailable(Exception):
    """The sink could not make the reports durable: the caller must not acknowledge them."""


class ReportSink(Protocol):
    async def append(self, reports: Sequence[DeviceReport], *, protocol: str) -> None:
        """Make ``reports`` durable before returning; raise :class:`SinkUnavailable` if that is impossible."""
        ...


def persons_for(session: Session, serials: Sequence[str]) -> dict[str, int | None]:
    """Serial -> the person the device is fitted to now (open assignment), or ``None``."""
    rows = session.execute(
        select(Device.serial, Assignment.person_id)
        .join(Assignment, Assignment.device_id == Device.id)
        .where(Device.serial.in_(list(set(serials))), Assignment.removed_at.is_(None))
    ).all()
    found: dict[str, int | None] = {serial: None for serial in serials}
    for serial, person_id in rows:
        found[serial] = person_id
    return found


def store_device_reports(session: Session, reports: Sequence[DeviceReport], *, protocol: str) -> int:
    """Store reports idempotently with the person each device is fitted to; returns how many were new."""
    persons = persons_for(session, [r.device for r in reports])
    rows = [report_to_record(r, persons[r.device], protocol=protocol) for r in reports]
    return store_reports(session, rows)


class StoreSink:
    """Writes reports into ``device_reports``; durable once the transaction has committed.

    Appends that arrive while a write is in progress are committed together in the next transaction (group
    commit), by one writer in a worker thread: a thousand connected devices cost a few transactions a second,
    not a thousand, and SQLite never sees competing writers. Each caller still returns only once its own
    reports are committed, and gets :class:`SinkUnavailable` if that transaction failed.
    """

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = 2_000) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self._pending: list[tuple[list[DeviceReport], str, asyncio.Future[None]]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        #: The writer's own thread: a burst of other blocking work never delays a commit.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-sink")

    def _write(self, groups: Sequence[tuple[Sequence[DeviceReport], str]]) -> int:
        with transaction(self.sessions) as session:
            return sum(store_device_reports(session, reports, protocol=protocol) for reports, protocol in groups)

    async def append(self, reports: Sequence[DeviceReport], *, protocol: str) -> None:
        if not reports:
            return
        loop = asyncio.get_running_loop()
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._wakeup = asyncio.Event()
            self._pending = []
            self._writer = loop.create_task(self._run(), name="store-sink-writer")
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((list(reports), protocol, future))
        assert self._wakeup is not None
        self._wakeup.set()
        await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        wakeup = self._wakeup
        while True:
            await wakeup.wait()
            wakeup.clear()
            while self._pending:
                batch: list[tuple[list[DeviceReport], str, asyncio.Future[None]]] = []
                size = 0
                while self._pending and (not batch or size + len(self._pending[0][0]) <= self.max_batch):
                    item = self._pending.pop(0)
                    batch.append(item)
                    size += len(item[0])
                groups = _merge([(reports, protocol) for reports, protocol, _ in batch])
                try:
                    await asyncio.get_running_loop().run_in_executor(self._thread, self._write, groups)
                except Exception as exc:
                    error = SinkUnavailable(f"database write failed: {exc.__class__.__name__}: {exc}")
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_result(None)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer


def _merge(groups: Sequence[tuple[list[DeviceReport], str]]) -> list[tuple[list[DeviceReport], str]]:
    by_protocol: dict[str, list[DeviceReport]] = {}
    for reports, protocol in groups:
        by_protocol.setdefault(protocol, []).extend(reports)
    return list((reports, protocol) for protocol, reports in by_protocol.items())
