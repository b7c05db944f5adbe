"""A migrated SQLite database with a small fleet, and a running gateway on ephemeral ports of 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.gateway import Gateway, GatewayConfig, Limits, StoreSink
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.migrate import upgrade
from kuzet.store.models import Assignment, Device, DeviceType, Person, Region, Unit

TELTONIKA = "356307042441013"
TELTONIKA_UNASSIGNED = "356307042441099"
GT06 = "864717003283581"
H02 = "4210051415"
WATCH = "6907919734"
OSMAND = "48241179"
KUZET = "KZ-0001"
KUZET_SECRET = "kz-0001-device-secret-0123456789"


@dataclass
class Fleet:
    url: str
    sessions: sessionmaker[Session]
    person_id: int


def make_fleet(url: str) -> Fleet:
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as s:
        region = Region(code="ALA", name="Almaty")
        s.add(region)
        s.flush()
        unit = Unit(region_id=region.id, code="ALA-01", name="District 1")
        s.add(unit)
        s.flush()
        person = Person(code="P-1", surname="Test", given_name="Subject", category="parole",
                        region_id=region.id, unit_id=unit.id)
        s.add(person)
        type_id = s.execute(select(DeviceType.id).order_by(DeviceType.id)).scalars().first()
        assert type_id is not None
        devices = {}
        for serial, protocol, secret in ((TELTONIKA, "teltonika", ""), (TELTONIKA_UNASSIGNED, "teltonika", ""),
                                         (GT06, "gt06", ""), (H02, "h02", ""), (WATCH, "watch", ""),
                                         (OSMAND, "osmand", ""), (KUZET, "kuzet", KUZET_SECRET)):
            devices[serial] = Device(serial=serial, type_id=type_id, protocol=protocol, status="fitted",
                                     secret=secret)
            s.add(devices[serial])
        s.flush()
        for serial in (TELTONIKA, GT06, H02, WATCH, OSMAND, KUZET):
            s.add(Assignment(device_id=devices[serial].id, person_id=person.id))
        person_id = person.id
    return Fleet(url, sessions, person_id)


@pytest.fixture
def fleet(tmp_path: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield make_fleet(f"sqlite:///{tmp_path}/gateway.db")  # type: ignore[operator]


def gateway_config(**overrides: object) -> GatewayConfig:
    ports: dict[str, int | None] = {"teltonika": 0, "gt06": 0, "h02": 0, "watch": 0, "osmand": 0,
                                    "kuzet_tcp": 0, "kuzet_https": 0}
    config = GatewayConfig(host="127.0.0.1", ports=ports, limits=Limits(idle_timeout_s=5.0, command_poll_s=0.0))
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture
async def gateway(fleet: Fleet) -> AsyncIterator[Gateway]:
    gw = Gateway(StoreSink(fleet.sessions), config=gateway_config(), database_url=fleet.url)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()
