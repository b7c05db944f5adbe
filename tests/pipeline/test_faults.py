"""Fault tests with real processes: `kill -9` of the service mid-stream, a restarted NATS, a stopped store.

Each test drives a real `kuzet` process with real Teltonika TCP connections (the gateway's own encoders).
Devices keep what was not acknowledged and send it again, as trackers do. Afterwards: every acknowledged
report is stored exactly once, and the alert episodes equal those of `replay` over the stored reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kuzet.domain.reports import DeviceReport
from kuzet.engine import replay
from kuzet.exchange.bundle import Bundle
from kuzet.journal.nats import NatsJournal
from kuzet.pipeline.fleet import FleetResult, TeltonikaSpeaker, drive, report_key

from .harness import Service, count_stored, episode_keys, seed, service_env, stored, stream
from .services import free_port, restart_nats, throwaway_postgres

#: Reports per fault test: 100,000 from 2,000 devices (the three tests take about 5.5 minutes here on a quiet
#: machine). ``KUZET_FAULT_REPORTS=20000`` gives a quicker run while working on the pipeline. Time limits
#: grow with the stream.
REPORTS = int(os.environ.get("KUZET_FAULT_REPORTS", "100000"))
PER_DEVICE = 50
WEARERS = max(REPORTS // PER_DEVICE, 1)
SCALE = max(REPORTS / 20_000, 1.0)


async def wait_stored(url: str, expected: int, timeout_s: float = 120.0) -> None:
    async with asyncio.timeout(timeout_s * SCALE):
        while await asyncio.to_thread(count_stored, url) < expected:  # noqa: ASYNC110 - polls the store
            await asyncio.sleep(0.25)


def start_fleet(reports: list[DeviceReport], port: int) -> tuple[FleetResult, asyncio.Task[FleetResult]]:
    """Every device on its own Teltonika connection, ten records a frame, resending what was not acknowledged."""
    result = FleetResult()
    return result, asyncio.create_task(drive(reports, TeltonikaSpeaker(), "127.0.0.1", port,
                                             records_per_frame=10, result=result))


def check_exactly_once_and_alerts(url: str, result: FleetResult, sent: int) -> None:
    reports, alerts, plan = stored(url)
    keys = Counter(report_key(r) for r in reports)
    acknowledged = [k for v in result.acknowledged.values() for k in v]
    assert len(acknowledged) >= sent
    assert all(n == 1 for n in keys.values()), "a report was stored twice"
    assert set(acknowledged) <= set(keys), "an acknowledged report was lost"
    assert len(reports) == sent
    episodes = replay(Bundle(plan, list(enumerate(reports, start=1))))
    live, replayed = episode_keys(alerts), episode_keys(episodes)
    only_live, only_replay = sorted(live - replayed), sorted(replayed - live)
    assert not only_live and not only_replay, (len(live), len(replayed), only_live[:3], only_replay[:3],
                                               Counter(k[1] for k in only_live), Counter(k[1] for k in only_replay))
    assert len(alerts) == len({(a.subject_code, a.type, a.target_key, a.start) for a in alerts})
    assert {a.type for a in alerts} >= {"curfew_absence", "strap_tamper"}


@pytest.mark.slow
async def test_kill_9_of_the_service_mid_stream_loses_no_acknowledged_report_and_raises_no_alert_twice(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kuzet.db'}"
    await asyncio.to_thread(seed, url, WEARERS)
    port = free_port()
    service = Service(["serve", "--no-migrate"], service_env(tmp_path, url, port), tmp_path)
    await service.start(60 * SCALE)
    reports = stream(WEARERS, PER_DEVICE, datetime.now(UTC) - timedelta(hours=4))
    result, fleet = start_fleet(reports, port)
    try:
        async with asyncio.timeout(60 * SCALE):
            while result.acknowledged_count < len(reports) // 3:  # noqa: ASYNC110 - watches the fleet
                await asyncio.sleep(0.02)
        service.kill()
        await service.wait()
        killed_at = result.acknowledged_count
        await asyncio.sleep(1.0)
        service = Service(["serve", "--no-migrate"], service_env(tmp_path, url, port), tmp_path)
        await service.start(60 * SCALE)
        await asyncio.wait_for(fleet, 120 * SCALE)
        await wait_stored(url, len(reports))
        await asyncio.sleep(1.5)  # let the monitor finish the alerts of the last batch
    finally:
        fleet.cancel()
        await service.stop()
    assert 0 < killed_at < len(reports)
    assert result.reconnects > 0
    check_exactly_once_and_alerts(url, result, len(reports))


@pytest.mark.slow
async def test_monitor_in_its_own_process_on_the_embedded_journal_survives_kill_9(tmp_path: Path) -> None:
    """The two-process layout of one machine: `kuzet serve --no-monitor` and `kuzet monitor` share the
    embedded journal file, so the gateway and the monitor each get a core. The monitor is killed mid-stream."""
    url = f"sqlite:///{tmp_path / 'kuzet.db'}"
    await asyncio.to_thread(seed, url, WEARERS)
    port = free_port()
    env = service_env(tmp_path, url, port)
    front = Service(["serve", "--no-migrate", "--no-monitor"], env, tmp_path)
    monitor = Service(["monitor"], env, tmp_path)
    await front.start(60 * SCALE)
    await monitor.start(60 * SCALE)
    reports = stream(WEARERS, PER_DEVICE, datetime.now(UTC) - timedelta(hours=4))
    result, fleet = start_fleet(reports, port)
    try:
        async with asyncio.timeout(60 * SCALE):
            while await asyncio.to_thread(count_stored, url) < len(reports) // 4:  # noqa: ASYNC110 - watches
                await asyncio.sleep(0.05)
        monitor.kill()
        await monitor.wait()
        stored_at_kill = await asyncio.to_thread(count_stored, url)
        await asyncio.sleep(1.0)
        monitor = Service(["monitor"], env, tmp_path)
        await monitor.start(60 * SCALE)
        await asyncio.wait_for(fleet, 120 * SCALE)
        await wait_stored(url, len(reports))
        await asyncio.sleep(1.5)
    finally:
        fleet.cancel()
        await monitor.stop()
        await front.stop()
    assert 0 < stored_at_kill < len(reports)
    check_exactly_once_and_alerts(url, result, len(reports))


@pytest.mark.slow
@pytest.mark.nats
async def test_gateway_and_two_monitors_ride_out_a_nats_restart_and_a_stopped_store(tmp_path: Path) -> None:
    with throwaway_postgres() as pg:
        url = pg.url
        await asyncio.to_thread(seed, url, WEARERS)
        port = free_port()
        stream_name = f"KZT_FAULT_{uuid.uuid4().hex[:8].upper()}"
        env = service_env(tmp_path, url, port, KUZET_JOURNAL_URL="nats://127.0.0.1:4222",
                          KUZET_JOURNAL_STREAM=stream_name, KUZET_JOURNAL_PARTITIONS="4")
        gateway = Service(["gateway"], env, tmp_path)
        monitors = [Service(["monitor", "--partitions", p], env, tmp_path) for p in ("0-1", "2-3")]
        await gateway.start(60 * SCALE)
        for m in monitors:
            await m.start(60 * SCALE)
        reports = stream(WEARERS, PER_DEVICE, datetime.now(UTC) - timedelta(hours=4))
        result, fleet = start_fleet(reports, port)
        try:
            async with asyncio.timeout(60 * SCALE):
                while result.acknowledged_count < len(reports) // 4:  # noqa: ASYNC110 - watches the fleet
                    await asyncio.sleep(0.02)
            await asyncio.to_thread(restart_nats, 1.0)
            async with asyncio.timeout(60 * SCALE):
                while result.acknowledged_count < len(reports) // 2:  # noqa: ASYNC110 - watches the fleet
                    await asyncio.sleep(0.02)
            await asyncio.to_thread(pg.stop, "immediate")
            await asyncio.sleep(30)
            await asyncio.to_thread(pg.start)
            await asyncio.wait_for(fleet, 180 * SCALE)
            await wait_stored(url, len(reports), timeout_s=180)
            await asyncio.sleep(2.0)
        finally:
            fleet.cancel()
            for service in (gateway, *monitors):
                await service.stop()
            journal = NatsJournal("nats://127.0.0.1:4222", stream=stream_name)
            with contextlib.suppress(Exception):
                await journal.start()
                await journal.delete_stream()
                await journal.close()
        check_exactly_once_and_alerts(url, result, len(reports))
