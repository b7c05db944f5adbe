"""The journals: durable before acknowledgement, per-device order, readers resume after their checkpoint."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kuzet.domain.enums import Source
from kuzet.domain.reports import DeviceReport
from kuzet.journal.base import JournalUnavailable, partition_of
from kuzet.journal.embedded import STREAM, EmbeddedJournal
from kuzet.journal.nats import NatsJournal, stream_key

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def report(device: str, seq: int) -> DeviceReport:
    at = T0 + timedelta(seconds=15 * seq)
    return DeviceReport(device=device, time=at, received=at + timedelta(seconds=1), seq=seq, lat=43.2, lon=76.9,
                        accuracy_m=8.0, source=Source.GPS, raw=b"\x00\x01frame")


async def drain(reader, expected: int) -> list:  # type: ignore[no-untyped-def]
    out: list = []
    empty = 0
    for _ in range(200):
        got = await reader.fetch(5000, 0.05)
        out += got
        empty = 0 if got else empty + 1
        if len(out) >= expected or (out and empty >= 3):
            break
    return out


async def test_concurrent_appends_share_commits_and_keep_each_devices_order(tmp_path: Path) -> None:
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()

    async def device(n: int) -> None:
        for seq in range(20):
            await journal.append([report(f"dev-{n}", seq)], protocol="osmand")

    await asyncio.gather(*(device(n) for n in range(100)))
    assert journal.stats.records == 2000
    assert journal.stats.commits < 2000  # group commit: many connections, fewer transactions
    reader = await journal.reader("monitor", None, {})
    entries = await drain(reader, 2000)
    assert len(entries) == 2000
    for n in range(100):
        seqs = [e.report.seq for e in entries if e.report.device == f"dev-{n}"]
        assert seqs == list(range(20))
    assert entries[0].report.raw == b"\x00\x01frame"
    await reader.close()
    await journal.close()


async def test_a_reader_starts_after_its_checkpoint_and_sees_only_its_partitions(tmp_path: Path) -> None:
    journal = EmbeddedJournal(tmp_path / "journal.db", partitions=4)
    await journal.start()
    await journal.append([report(f"dev-{n}", 1) for n in range(40)], protocol="kuzet")
    first = await drain(await journal.reader("all", None, {}), 40)
    middle = first[19].offset
    rest = await drain(await journal.reader("again", None, {STREAM: middle}), 21)
    assert [e.offset for e in rest] == [e.offset for e in first[20:]]
    mine = await drain(await journal.reader("p1", [1], {}), 40)
    assert mine and all(partition_of(e.report.device, 4) == 1 for e in mine)
    await journal.close()


_WRITER = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from kuzet.domain.reports import DeviceReport
from kuzet.journal.embedded import EmbeddedJournal

async def main():
    journal = EmbeddedJournal(sys.argv[1])
    await journal.start()
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    n = 0
    while True:
        await journal.append([DeviceReport(device="d1", time=t0 + timedelta(seconds=n), received=t0, seq=n)],
                             protocol="kuzet")
        print(n, flush=True)
        n += 1

asyncio.run(main())
"""


async def test_every_acknowledged_append_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    writer = [sys.executable, "-c", _WRITER, str(path)]
    proc = subprocess.Popen(writer, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220 - a separate process
    acknowledged = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 300:
            break
    proc.kill()
    proc.wait()
    journal = EmbeddedJournal(path)
    await journal.start()
    entries = await drain(await journal.reader("check", None, {}), acknowledged + 1)
    seqs = [e.report.seq for e in entries]
    assert seqs[: acknowledged + 1] == list(range(acknowledged + 1))
    await journal.close()


async def test_a_full_journal_refuses_rather_than_acknowledges(tmp_path: Path) -> None:
    journal = EmbeddedJournal(tmp_path / "journal.db", max_backlog=10)
    await journal.start()
    reader = await journal.reader("slow-monitor", None, {})
    await journal.append([report("d", n) for n in range(11)], protocol="kuzet")
    with pytest.raises(JournalUnavailable, match="backlog"):
        await journal.append([report("d", 12)], protocol="kuzet")
    await reader.confirm({STREAM: 11})
    await journal.append([report("d", 12)], protocol="kuzet")
    await journal.close()


async def test_bodies_written_in_the_first_format_are_still_read(tmp_path: Path) -> None:
    """Rows journalled by an earlier version (a flat JSON object, the frame under ``_raw``) survive an upgrade."""
    import base64
    import sqlite3

    import orjson

    old = report("dev-old", 7)
    body = dict(old.to_json(), unknown_field=[1, "б"], _raw=base64.b64encode(old.raw or b"").decode())
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    with sqlite3.connect(tmp_path / "journal.db") as conn:
        conn.execute("INSERT INTO journal (partition, device, protocol, body) VALUES (?, ?, ?, ?)",
                     (partition_of(old.device, journal.partitions), old.device, "kuzet", orjson.dumps(body)))
    await journal.append([report("dev-new", 8)], protocol="kuzet")
    first, second = await drain(await journal.reader("m", None, {}), 2)
    assert first.report == old and first.report.raw == old.raw
    assert first.report.extra == {"unknown_field": [1, "б"]}
    assert second.report == report("dev-new", 8) and second.report.raw == b"\x00\x01frame"
    await journal.close()


async def test_an_unreadable_row_is_set_aside_and_the_rest_is_read(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A damaged body (or one from a newer version) must not stop the monitor: it is logged, kept in
    ``journal_rejected`` for an operator, and every good row after it is read."""
    import sqlite3

    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    await journal.append([report("d", 1)], protocol="kuzet")
    with sqlite3.connect(tmp_path / "journal.db") as conn:
        conn.execute("INSERT INTO journal (partition, device, protocol, body) VALUES (0, 'd', 'kuzet', ?)",
                     (b"[2,{not json",))
    await journal.append([report("d", 3), report("d", 4)], protocol="kuzet")
    reader = await journal.reader("m", None, {})
    got = await drain(reader, 3)
    assert [e.report.seq for e in got] == [1, 3, 4]
    assert "cannot be read" in caplog.text
    with sqlite3.connect(tmp_path / "journal.db") as conn:
        kept = conn.execute('SELECT "offset", body, reader FROM journal_rejected').fetchall()
    assert kept == [(2, b"[2,{not json", "m")]
    await reader.close()
    await journal.close()


async def test_offsets_go_on_rising_after_every_row_was_released(tmp_path: Path) -> None:
    """When every row has been confirmed and released (an idle moment, or a clean stop), the next rows must
    still get offsets above the readers' checkpoints: numbered from 1 again they would never be read."""
    path = tmp_path / "journal.db"
    journal = EmbeddedJournal(path, release_every_s=0.0)
    await journal.start()
    await journal.append([report("d", n) for n in range(5)], protocol="kuzet")
    reader = await journal.reader("monitor", None, {})
    first = await drain(reader, 5)
    await reader.confirm({STREAM: first[-1].offset})
    await reader.close()
    await journal.close()  # releases every confirmed row: the table is empty now
    for _ in range(2):  # across a restart, and again while running after a release
        journal = EmbeddedJournal(path, release_every_s=0.0)
        await journal.start()
        await journal.append([report("d", 10)], protocol="kuzet")
        await journal.append([report("d", 11)], protocol="kuzet")
        reader = await journal.reader("monitor", None, {STREAM: first[-1].offset})
        later = await drain(reader, 2)
        assert [e.report.seq for e in later] == [10, 11]
        assert all(e.offset > first[-1].offset for e in later)
        first = later
        await reader.confirm({STREAM: later[-1].offset})
        await reader.close()
        await journal.close()


_READER = """
import asyncio, sys
from kuzet.journal.embedded import STREAM, EmbeddedJournal

async def main():
    reader = await EmbeddedJournal(sys.argv[1]).reader("monitor", None, {})
    got = []
    while len(got) < int(sys.argv[2]):
        got += await reader.fetch(1000, 1.0)
    await reader.confirm({STREAM: got[-1].offset})
    print(got[-1].offset, flush=True)

asyncio.run(main())
"""


async def test_a_reader_in_another_process_releases_rows_and_backlog(tmp_path: Path) -> None:
    """``kuzet serve`` runs its monitor in a child process: what that reader confirms must reach the writer,
    or the journal would grow without end and, past ``max_backlog``, refuse every device."""
    import sqlite3

    path = tmp_path / "journal.db"
    journal = EmbeddedJournal(path, max_backlog=50, release_every_s=0.0)
    await journal.start()
    await journal.append([report("d", n) for n in range(40)], protocol="kuzet")
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", _READER, str(path), "40"],
                                  capture_output=True, text=True, timeout=60, check=True)
    confirmed = int(out.stdout)
    await journal.append([report("d", n) for n in range(40, 60)], protocol="kuzet")  # 60 > 50, but 40 are done
    async with asyncio.timeout(10):  # the writer releases just after the commit that acknowledged
        while journal.backlog != 60 - confirmed:  # noqa: ASYNC110 - polls a counter set by another thread
            await asyncio.sleep(0.01)
    with sqlite3.connect(path) as conn:
        left = conn.execute('SELECT MIN("offset"), COUNT(*) FROM journal').fetchone()
    assert left == (confirmed + 1, 20)  # the confirmed rows are gone, the rest kept
    await journal.close()


@pytest.mark.nats
async def test_nats_journal_keeps_device_order_per_partition_and_drops_resent_frames() -> None:
    journal = NatsJournal("nats://127.0.0.1:4222", stream=f"KZT_TEST_{uuid.uuid4().hex[:8].upper()}", partitions=2)
    await journal.start()
    try:
        for seq in range(5):
            await journal.append([report("dev-a", seq), report("dev-b", seq)], protocol="teltonika")
        await journal.append([report("dev-a", 4)], protocol="teltonika")  # the device re-sends its last frame
        reader = await journal.reader("monitor", None, {})
        entries = await drain(reader, 10)
        assert len(entries) == 10  # the re-sent frame has the same message id: JetStream stores it once
        for dev in ("dev-a", "dev-b"):
            part = stream_key(partition_of(dev, 2))
            mine = [e for e in entries if e.report.device == dev]
            assert all(e.stream == part for e in mine)
            assert [e.report.seq for e in mine][:5] == list(range(5))
        # A new reader positioned after the third entry of dev-a's partition sees only what follows.
        part_a = stream_key(partition_of("dev-a", 2))
        offsets_a = sorted({e.offset for e in entries if e.stream == part_a})
        await reader.close()
        again = await journal.reader("monitor", [partition_of("dev-a", 2)], {part_a: offsets_a[2]})
        later = await drain(again, 1)
        assert later and min(e.offset for e in later) == offsets_a[3]
        await again.close()
    finally:
        await journal.delete_stream()
        await journal.close()


@pytest.mark.nats
async def test_an_unreadable_nats_message_is_skipped_and_the_rest_is_read(caplog: pytest.LogCaptureFixture) -> None:
    journal = NatsJournal("nats://127.0.0.1:4222", stream=f"KZT_TEST_{uuid.uuid4().hex[:8].upper()}", partitions=1)
    await journal.start()
    try:
        await journal.append([report("dev-a", 1)], protocol="teltonika")
        assert journal._js is not None
        await journal._js.publish(journal.subject("dev-a", 0), b'{"p": "teltonika", "r": [[2, {"bad": 1}]]}')
        await journal._js.publish(journal.subject("dev-a", 0), b"\xff not json at all")
        await journal.append([report("dev-a", 2)], protocol="teltonika")
        reader = await journal.reader("monitor", None, {})
        entries = await drain(reader, 2)
        assert [e.report.seq for e in entries] == [1, 2]
        assert caplog.text.count("cannot be read") == 2
        await reader.close()
    finally:
        await journal.delete_stream()
        await journal.close()
