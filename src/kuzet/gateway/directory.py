"""What the gateway needs to know about devices, and the command queue: service functions over the store.

Shared by the servers, the API (``queue_command`` from the alert workflow) and the CLI. No protocol logic here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.store.db import transaction, upsert_insert
from kuzet.store.models import Assignment, Device, ProtectedPersonRecord, UnknownDevice

from .models import DeviceCommand

T = TypeVar("T")

COMMAND_KINDS = frozenset({"locate", "message", "text"})
RETIRED_STATUSES = frozenset({"written_off", "lost", "retired"})


@dataclass(frozen=True, slots=True)
class KnownDevice:
    serial: str
    protocol: str
    secret: str
    status: str


def find_device(session: Session, serial: str) -> KnownDevice | None:
    row = session.execute(select(Device).where(Device.serial == serial)).scalar_one_or_none()
    if row is None:
        return None
    return KnownDevice(row.serial, row.protocol, row.secret, row.status)


def protected_links(session: Session) -> dict[str, list[str]]:
    """Each protected person's device and the devices fitted to the wearers who must keep away from them."""
    rows = session.execute(
        select(ProtectedPersonRecord.device_serial, Device.serial)
        .join(Assignment, Assignment.person_id == ProtectedPersonRecord.person_id)
        .join(Device, Device.id == Assignment.device_id)
        .where(Assignment.removed_at.is_(None))).all()
    links: dict[str, list[str]] = {}
    for pp_device, wearer_device in rows:
        if pp_device:
            links.setdefault(pp_device, []).append(wearer_device)
    return {d: sorted(set(w)) for d, w in links.items()}


def note_unknown_device(session: Session, serial: str, protocol: str, remote: str = "",
                        now: datetime | None = None) -> None:
    """List a refused device for an administrator: first time inserted, then attempts and last_seen updated."""
    at = now or datetime.now(UTC)
    values = {"serial": serial[:64], "protocol": protocol[:32], "remote": remote[:64], "first_seen": at,
              "last_seen": at, "attempts": 1}
    table: Any = UnknownDevice.__table__
    stmt = upsert_insert(session, table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["serial"], set_={
        "attempts": table.c.attempts + 1, "last_seen": at, "protocol": values["protocol"],
        "remote": values["remote"]})
    session.execute(stmt)


def queue_command(session: Session, serial: str, kind: str, payload: dict[str, Any] | None = None,
                  *, now: datetime | None = None) -> DeviceCommand:
    """Queue a command for the device ``serial``; it is sent on the device's next connection (or poll).

    ``kind``: ``locate`` (an on-demand position), ``message`` (``{"text": ...}`` to the wearer) or ``text`` (a
    raw protocol command, ``{"text": ...}``). Raises ``LookupError`` for a device not in the fleet and
    ``ValueError`` for an unknown kind.
    """
    if kind not in COMMAND_KINDS:
        raise ValueError(f"unknown command kind {kind!r} (one of {', '.join(sorted(COMMAND_KINDS))})")
    device = find_device(session, serial)
    if device is None:
        raise LookupError(f"no device with serial {serial!r}")
    command = DeviceCommand(device_serial=serial, kind=kind, payload=dict(payload or {}), status="queued",
                            protocol=device.protocol, queued_at=now or datetime.now(UTC), attempts=0, detail="")
    session.add(command)
    session.flush()
    return command


def pending_commands(session: Session, serial: str) -> list[DeviceCommand]:
    """Commands not yet acknowledged (queued, or sent over a connection that may have dropped), oldest first."""
    return list(session.execute(
        select(DeviceCommand).where(DeviceCommand.device_serial == serial,
                                    DeviceCommand.status.in_(("queued", "sent")))
        .order_by(DeviceCommand.id)).scalars())


def mark_sent(session: Session, ids: list[int], now: datetime | None = None) -> None:
    at = now or datetime.now(UTC)
    for command in session.execute(select(DeviceCommand).where(DeviceCommand.id.in_(ids))).scalars():
        command.status = "sent"
        command.sent_at = at
        command.attempts += 1


def mark_acknowledged(session: Session, serial: str, command_id: int | None = None, *, status: str = "acknowledged",
                      detail: str = "", now: datetime | None = None) -> DeviceCommand | None:
    """Mark command ``command_id`` (or the device's oldest sent command) as answered by the device."""
    query = select(DeviceCommand).where(DeviceCommand.device_serial == serial, DeviceCommand.status == "sent")
    if command_id is not None:
        query = select(DeviceCommand).where(DeviceCommand.device_serial == serial, DeviceCommand.id == command_id)
    command = session.execute(query.order_by(DeviceCommand.id).limit(1)).scalar_one_or_none()
    if command is None:
        return None
    command.status = status
    command.acknowledged_at = now or datetime.now(UTC)
    command.detail = detail[:500]
    return command


@dataclass(frozen=True, slots=True)
class PendingCommand:
    id: int
    kind: str
    payload: dict[str, Any]


class Directory:
    """Async access for the servers: each call is one short transaction in the directory's worker threads.

    Known devices are cached for ``cache_s`` seconds (a device removed from the fleet is refused at its next
    connection after that); once :meth:`warm` has loaded the whole fleet, the cache is refreshed whole with one
    query when it ages, and only devices new since then are looked up one by one. Which devices have commands
    waiting is one query for all devices, repeated at most every ``poll_s`` seconds, so a thousand connections
    do not mean a thousand queries.
    """

    def __init__(self, sessions: sessionmaker[Session], *, cache_s: float = 60.0, threads: int = 4,
                 on_links: Callable[[dict[str, list[str]]], None] | None = None) -> None:
        self.sessions = sessions
        self.cache_s = cache_s
        #: called with :func:`protected_links` whenever the fleet is (re)loaded: the journal routes a protected
        #: person's reports to the partitions of the wearers linked to them
        self.on_links = on_links
        self._known: dict[str, tuple[KnownDevice, float]] = {}
        self._warmed_at: float | None = None
        self._warm_lock: asyncio.Lock | None = None
        self._waiting: set[str] = set()
        self._waiting_at = float("-inf")
        self._waiting_lock: asyncio.Lock | None = None
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway-directory")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    def _find(self, serial: str) -> KnownDevice | None:
        with self.sessions() as session:
            return find_device(session, serial)

    async def find(self, serial: str) -> KnownDevice | None:
        now = time.monotonic()
        if self._warmed_at is not None and now - self._warmed_at >= self.cache_s:
            # The warmed fleet has aged: refresh it with one query (one caller does it, the others wait)
            # rather than letting every connecting device query on its own.
            if self._warm_lock is None:
                self._warm_lock = asyncio.Lock()
            async with self._warm_lock:
                if self._warmed_at is not None and time.monotonic() - self._warmed_at >= self.cache_s:
                    try:
                        await self.warm()
                    except Exception:
                        self._warmed_at = None  # store down: fall back to lookups per device
            now = time.monotonic()
        cached = self._known.get(serial)
        if cached is not None and now - cached[1] < self.cache_s:
            return cached[0]
        device = await self._call(self._find, serial)
        if device is not None:
            self._known[serial] = (device, now)
        return device

    def _all(self) -> tuple[list[KnownDevice], dict[str, list[str]] | None]:
        with self.sessions() as session:
            rows = session.execute(select(Device.serial, Device.protocol, Device.secret, Device.status)).all()
            links = protected_links(session) if self.on_links is not None else None
        return [KnownDevice(*row) for row in rows], links

    async def warm(self) -> int:
        """Cache every device of the fleet with one query; returns how many.

        Called when the gateway starts: after a restart the whole fleet reconnects within seconds, and one query
        for all devices replaces one query per connection (each of which costs a session and a round trip).
        """
        devices, links = await self._call(self._all)
        if links is not None and self.on_links is not None:
            self.on_links(links)
        now = time.monotonic()
        # Devices no longer in the fleet are forgotten; the others are replaced by their current state.
        self._known = {d.serial: (d, now) for d in devices}
        self._warmed_at = now
        return len(devices)

    def _unknown(self, serial: str, protocol: str, remote: str) -> None:
        with transaction(self.sessions) as session:
            note_unknown_device(session, serial, protocol, remote)

    async def refuse_unknown(self, serial: str, protocol: str, remote: str) -> None:
        await self._call(self._unknown, serial, protocol, remote)

    def _waiting_serials(self) -> set[str]:
        with self.sessions() as session:
            return set(session.execute(select(DeviceCommand.device_serial).where(
                DeviceCommand.status.in_(("queued", "sent"))).distinct()).scalars())

    async def has_commands(self, serial: str, max_age_s: float) -> bool:
        """Whether ``serial`` has unacknowledged commands, as of at most ``max_age_s`` ago."""
        if self._waiting_lock is None:
            self._waiting_lock = asyncio.Lock()
        async with self._waiting_lock:
            if time.monotonic() - self._waiting_at >= max_age_s:
                self._waiting = await self._call(self._waiting_serials)
                self._waiting_at = time.monotonic()
        return serial in self._waiting

    def _take(self, serial: str) -> list[PendingCommand]:
        with transaction(self.sessions) as session:
            commands = pending_commands(session, serial)
            mark_sent(session, [c.id for c in commands])
            return [PendingCommand(c.id, c.kind, dict(c.payload)) for c in commands]

    async def take_commands(self, serial: str, max_age_s: float = 0.0) -> list[PendingCommand]:
        """The device's unacknowledged commands, marked as sent (the caller sends them now)."""
        if not await self.has_commands(serial, max_age_s):
            return []
        return await self._call(self._take, serial)

    def _ack(self, serial: str, command_id: int | None, status: str, detail: str) -> None:
        with transaction(self.sessions) as session:
            mark_acknowledged(session, serial, command_id, status=status, detail=detail)
        self._waiting_at = float("-inf")

    async def acknowledge(self, serial: str, command_id: int | None = None, *, status: str = "acknowledged",
                          detail: str = "") -> None:
        await self._call(self._ack, serial, command_id, status, detail)
