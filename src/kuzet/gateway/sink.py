"""Where the gateway puts reports before it acknowledges them: a :class:`ReportSink`.

The gateway acknowledges a device only after ``append`` has returned: on return the reports are durable. A sink
that cannot make them durable raises :class:`SinkUnavailable` (any other exception is treated the same way), and
the device keeps its buffer and sends again. :class:`StoreSink` writes straight into the database; the journal
implements the same interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
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
    """Writes reports into ``device_reports`` in a worker thread; durable once the transaction committed."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _write(self, reports: Sequence[DeviceReport], protocol: str) -> int:
        with transaction(self.sessions) as session:
            return store_device_reports(session, reports, protocol=protocol)

    async def append(self, reports: Sequence[DeviceReport], *, protocol: str) -> None:
        if not reports:
            return
        try:
            await asyncio.to_thread(self._write, list(reports), protocol)
        except (SQLAlchemyError, OSError) as exc:
            raise SinkUnavailable(f"database write failed: {exc.__class__.__name__}: {exc}") from exc
