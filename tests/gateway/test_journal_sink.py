"""The gateway acknowledges into the pipeline's embedded journal exactly as into the store (same interface)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from kuzet.domain.enums import Source
from kuzet.domain.reports import DeviceReport
from kuzet.gateway import Gateway
from kuzet.gateway.codecs import teltonika
from kuzet.journal.embedded import EmbeddedJournal

from .conftest import TELTONIKA, Fleet, gateway_config


async def test_teltonika_frames_are_acknowledged_once_in_the_journal(fleet: Fleet, tmp_path: Path) -> None:
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    try:
        async with Gateway(journal, config=gateway_config(), database_url=fleet.url) as gw:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.ports["teltonika"])
            writer.write(teltonika.encode_login(TELTONIKA))
            assert await asyncio.wait_for(reader.readexactly(1), 5) == b"\x01"
            report = DeviceReport(device=TELTONIKA, time=datetime(2026, 11, 2, tzinfo=UTC), received=datetime.now(UTC),
                                  lat=43.2, lon=76.9, source=Source.GPS, satellites=7)
            writer.write(teltonika.encode_avl([report, report]))
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"\x00\x00\x00\x02"
            writer.close()
    finally:
        await journal.close()
    with sqlite3.connect(tmp_path / "journal.db") as conn:
        assert conn.execute("SELECT count(*), min(protocol) FROM journal WHERE device = ?", (TELTONIKA,)).fetchone() \
            == (2, "teltonika")
