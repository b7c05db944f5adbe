"""Devices' protocol keys and users' TOTP seeds are encrypted in the database and clear to the code."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import check, downgrade, upgrade
from kuzet.store.models import Device, DeviceType, User

KEY = "9f" * 32


def add_device(session: Session, serial: str, secret: str) -> None:
    type_id = session.execute(select(DeviceType.id).order_by(DeviceType.id)).scalars().first()
    session.add(Device(serial=serial, type_id=type_id, protocol="kuzet", status="in_stock", secret=secret))


def test_secrets_are_sealed_at_rest_and_clear_when_read(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        add_device(s, "K-1", KEY)
        add_device(s, "T-1", "")
        s.add(User(username="o.officer", password_hash="x", role="officer", totp_secret="JBSWY3DPEHPK3PXP"))
    with sessions() as s:
        raw = dict(s.execute(text("SELECT serial, secret FROM devices")).all())
        totp = s.execute(text("SELECT totp_secret FROM users")).scalar_one()
        assert raw["T-1"] == ""
        assert raw["K-1"].startswith("v2:") and KEY not in raw["K-1"]
        assert totp.startswith("v2:") and "JBSWY3DP" not in totp
        assert s.execute(select(Device.secret).where(Device.serial == "K-1")).scalar_one() == KEY
        assert s.execute(select(Device.serial).where(Device.secret != "")).scalars().all() == ["K-1"]
        user = s.execute(select(User)).scalar_one()
        assert user.totp_secret == "JBSWY3DPEHPK3PXP"
        # Each encryption has its own nonce: the same key on two devices is not visible as the same value.
    with sessions.begin() as s:
        add_device(s, "K-2", KEY)
    with sessions() as s:
        raw = dict(s.execute(text("SELECT serial, secret FROM devices")).all())
    assert raw["K-1"] != raw["K-2"]


def test_the_migration_seals_what_was_stored_in_clear_and_the_downgrade_opens_it(sqlite_url: str) -> None:
    upgrade(sqlite_url, "0002")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        type_id = conn.execute(text("SELECT id FROM device_types ORDER BY id LIMIT 1")).scalar_one()
        conn.execute(text("INSERT INTO devices (serial, type_id, protocol, status, secret, firmware, created_at) "
                          "VALUES ('K-9', :t, 'kuzet', 'in_stock', :k, '', '2026-11-01 00:00:00')"),
                     {"t": type_id, "k": KEY})
    upgrade(sqlite_url)
    check(sqlite_url)
    with engine.connect() as conn:
        sealed = conn.execute(text("SELECT secret FROM devices WHERE serial = 'K-9'")).scalar_one()
    assert sealed.startswith("v2:")
    with session_factory(engine)() as s:
        assert s.execute(select(Device.secret).where(Device.serial == "K-9")).scalar_one() == KEY
    downgrade(sqlite_url, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT secret FROM devices WHERE serial = 'K-9'")).scalar_one() == KEY
    engine.dispose()
