"""The gateway's store side on SQLite and PostgreSQL: the store sink is idempotent and resolves the wearer,
unknown devices are upserted, and commands go queued -> sent -> acknowledged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from kuzet.domain.enums import Source
from kuzet.domain.reports import DeviceReport
from kuzet.gateway import StoreSink, note_unknown_device, queue_command
from kuzet.gateway.directory import Directory
from kuzet.store.db import transaction
from kuzet.store.models import DeviceReportRecord, UnknownDevice

from .conftest import KUZET, TELTONIKA_UNASSIGNED, make_fleet

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def test_store_side_on_both_databases(db_url: str) -> None:
    fleet = make_fleet(db_url)
    sink = StoreSink(fleet.sessions)
    reports = [DeviceReport(device=serial, seq=i, time=T0 + timedelta(minutes=i), received=T0, lat=43.2, lon=76.9,
                            source=Source.GPS, accuracy_m=5.0, raw=b"frame")
               for serial in (KUZET, TELTONIKA_UNASSIGNED) for i in range(3)]

    async def deliver() -> None:
        await asyncio.gather(sink.append(reports[:4], protocol="kuzet"), sink.append(reports, protocol="kuzet"))
        await sink.close()

    asyncio.run(deliver())
    with fleet.sessions() as s:
        rows = s.execute(select(DeviceReportRecord).order_by(DeviceReportRecord.id)).scalars().all()
    assert len(rows) == 6
    assert {r.device: r.person_id for r in rows} == {KUZET: fleet.person_id, TELTONIKA_UNASSIGNED: None}
    assert all(r.raw == b"frame" for r in rows)

    for _ in range(3):
        with transaction(fleet.sessions) as s:
            note_unknown_device(s, "STRANGER-1", "gt06", "10.0.0.7:5000")
    with fleet.sessions() as s:
        (stranger,) = s.execute(select(UnknownDevice)).scalars().all()
    assert (stranger.serial, stranger.attempts, stranger.protocol) == ("STRANGER-1", 3, "gt06")

    with transaction(fleet.sessions) as s:
        command_id = queue_command(s, KUZET, "locate").id
    directory = Directory(fleet.sessions)

    async def deliver_command() -> None:
        (taken,) = await directory.take_commands(KUZET)
        assert taken.id == command_id and taken.kind == "locate"
        await directory.acknowledge(KUZET, command_id)
        assert await directory.take_commands(KUZET) == []

    asyncio.run(deliver_command())


def test_the_directory_warms_with_the_whole_fleet_and_then_answers_without_the_store(sqlite_url: str) -> None:
    from kuzet.store.models import Device

    fleet = make_fleet(sqlite_url)
    directory = Directory(fleet.sessions)

    async def check() -> None:
        assert await directory.warm() == 7
        # Whatever the store does now, a connecting device is answered from what was warmed.
        with transaction(fleet.sessions) as s:
            s.execute(Device.__table__.update().values(status="lost"))
        known = await directory.find(KUZET)
        assert known is not None and known.status == "fitted" and known.protocol == "kuzet"
        assert await directory.find("NOT-IN-THE-FLEET") is None
        # An expired entry is looked up again, and sees the change.
        directory.cache_s = 0.0
        known = await directory.find(KUZET)
        assert known is not None and known.status == "lost"

    asyncio.run(check())


def test_the_directory_hands_the_journal_each_protected_persons_links_when_it_loads_the_fleet(
        sqlite_url: str) -> None:
    from kuzet.store.models import Assignment, Device, ProtectedPersonRecord

    fleet = make_fleet(sqlite_url)
    with fleet.sessions() as s:
        worn = sorted(s.execute(select(Device.serial).join(Assignment, Assignment.device_id == Device.id)
                                .where(Assignment.person_id == fleet.person_id,
                                       Assignment.removed_at.is_(None))).scalars())
    with transaction(fleet.sessions) as s:
        s.add(ProtectedPersonRecord(person_id=fleet.person_id, code="PP-1", device_serial="PHONE-1", distance_m=500))
    seen: list[dict[str, list[str]]] = []
    directory = Directory(fleet.sessions, on_links=seen.append)
    asyncio.run(directory.warm())
    assert seen == [{"PHONE-1": worn}] and worn
    # a device taken off the wearer no longer pulls the phone's reports to its partition
    with transaction(fleet.sessions) as s:
        s.execute(Assignment.__table__.update().values(removed_at=T0))
    asyncio.run(directory.warm())
    assert seen[-1] == {}
