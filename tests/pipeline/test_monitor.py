"""The monitor: positions stored once, episodes upserted once, checkpoints that survive restarts, clock timers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.domain.enums import AlertType, Closure, Source
from kuzet.domain.reports import DeviceReport
from kuzet.engine import replay
from kuzet.exchange import read_bundle
from kuzet.exchange.bundle import Bundle
from kuzet.exchange.store_io import import_bundle
from kuzet.gateway.directory import protected_links
from kuzet.journal.base import partition_of
from kuzet.journal.embedded import EmbeddedJournal
from kuzet.journal.nats import NatsJournal
from kuzet.monitor.models import MonitorCheckpoint
from kuzet.monitor.service import Monitor, load_plan
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.migrate import upgrade
from kuzet.store.models import AlertRecord, DeviceReportRecord, ZoneRecord
from tests.conftest import EXAMPLES, drop_pg_database, new_pg_database

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def seed(sessions: sessionmaker[Session]) -> list[str]:
    """The clean example's people, zones and devices, without its reports; returns the wearers' devices."""
    plan = read_bundle(EXAMPLES / "clean").plan
    with transaction(sessions) as session:
        import_bundle(session, Bundle(plan), region_code="TEST", fitted_at=T0 - timedelta(days=1))
    return [s.devices[0].id for s in plan.subjects]


def stream(devices: Sequence[str], count: int, *, strap_open_at: int | None = None) -> list[DeviceReport]:
    out = []
    for seq in range(count):
        for dev in devices:
            at = T0 + timedelta(seconds=15 * seq)
            out.append(DeviceReport(
                device=dev, seq=seq, time=at, received=at + timedelta(seconds=2), lat=43.2, lon=76.9,
                accuracy_m=8.0, source=Source.GPS,
                strap=Closure.OPEN if strap_open_at is not None and strap_open_at <= seq < strap_open_at + 3
                else Closure.CLOSED))
    return out


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as s:
        positions = s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar_one()
        distinct = s.execute(select(func.count(func.distinct(DeviceReportRecord.dedup_key)))).scalar_one()
        alerts = s.execute(select(func.count()).select_from(AlertRecord)).scalar_one()
    return positions, distinct, alerts


def alert_keys(sessions: sessionmaker[Session]) -> set[tuple[Any, ...]]:
    with sessions() as s:
        return {(a.subject_code, a.type, a.target, a.start, a.end) for a in s.execute(select(AlertRecord)).scalars()}


def replayed_keys(sessions: sessionmaker[Session], arrived: Sequence[DeviceReport]) -> set[tuple[Any, ...]]:
    """The episodes `kuzet replay` finds in the same reports, in the same arrival order."""
    with sessions() as s:
        plan = load_plan(s).plan
    return {(e.subject, e.type.value, e.target, e.start, e.end)
            for e in replay(Bundle(plan, list(enumerate(arrived, start=1))))}


async def run_until(monitor: Monitor, condition: Any, timeout_s: float = 20.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not await asyncio.to_thread(condition):  # noqa: ASYNC110 - polls the store
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


async def test_restarted_monitor_stores_each_report_once_and_raises_no_alert_twice(
        sessions: sessionmaker[Session], tmp_path: Path) -> None:
    devices = seed(sessions)
    reports = stream(devices, 60, strap_open_at=20)
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    await journal.append(reports[: len(reports) // 2], protocol="kuzet")
    clock = lambda: reports[-1].received  # noqa: E731 - the clock stops with the data, as replay's does
    first = Monitor(sessions, journal, checkpoint_every=timedelta(0), clock=clock)
    await run_until(first, lambda: counts(sessions)[0] >= len(reports) // 2)
    # A crash after the writes but before the checkpoint: put the checkpoint back in time.
    with transaction(sessions) as s:
        row = s.get(MonitorCheckpoint, "embedded")
        assert row is not None
        row.offsets = {"embedded": row.offsets["embedded"] // 3}
    await journal.append(reports[len(reports) // 2:], protocol="kuzet")
    await journal.append(reports[100:110], protocol="kuzet")  # a device re-sends frames it had sent
    second = Monitor(sessions, journal, clock=clock)
    await run_until(second, lambda: counts(sessions)[0] >= len(reports))
    positions, distinct, _ = counts(sessions)
    assert positions == distinct == len(reports)
    arrived = reports + reports[100:110]
    assert alert_keys(sessions) == replayed_keys(sessions, arrived)  # the same episodes, each on one row
    with sessions() as s:
        rows = s.execute(select(AlertRecord)).scalars().all()
    tamper = [r for r in rows if r.type == AlertType.STRAP_TAMPER.value]
    assert len(tamper) == len(devices)
    assert all(r.end is not None and r.person_id is not None for r in tamper)
    await journal.close()


async def test_communication_loss_is_raised_by_the_clock_without_new_data(
        sessions: sessionmaker[Session], tmp_path: Path) -> None:
    devices = seed(sessions)
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    await journal.append(stream(devices[:1], 4), protocol="kuzet")
    clock = [T0 + timedelta(minutes=2)]
    monitor = Monitor(sessions, journal, clock=lambda: clock[0])

    def silent_for_long() -> bool:
        clock[0] += timedelta(minutes=5)
        with sessions() as s:
            return s.execute(select(func.count()).select_from(AlertRecord).where(
                AlertRecord.type == AlertType.COMMUNICATION_LOSS.value)).scalar_one() >= 1

    await run_until(monitor, silent_for_long)
    with sessions() as s:
        alert = s.execute(select(AlertRecord).where(
            AlertRecord.type == AlertType.COMMUNICATION_LOSS.value)).scalar_one()
    assert alert.start == T0 + timedelta(seconds=45)  # the time of the last report before the silence
    assert alert.end is None
    await journal.close()


async def start_and_drop_a_zone(monitor: Monitor, stop: asyncio.Event, sessions: sessionmaker[Session]
                                ) -> tuple[asyncio.Task[None], int]:
    """Start the monitor, then deactivate one zone in the store; returns the task and the zones it had."""
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.wait_for(monitor.ready.wait(), 10)
    assert monitor.view is not None
    before = sum(len(s.zones) for s in monitor.view.plan.subjects)
    with transaction(sessions) as s:
        zone = s.execute(select(ZoneRecord).order_by(ZoneRecord.id)).scalars().first()
        assert zone is not None
        zone.active = False
    return task, before


async def test_the_plan_is_refreshed_when_zones_change(sqlite_sessions: sessionmaker[Session],
                                                        tmp_path: Path) -> None:
    seed(sqlite_sessions)
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    monitor = Monitor(sqlite_sessions, journal, plan_refresh=timedelta(seconds=0.1))
    stop = asyncio.Event()
    task, before = await start_and_drop_a_zone(monitor, stop, sqlite_sessions)
    assert monitor.view is not None
    for _ in range(100):
        await asyncio.sleep(0.05)
        if sum(len(s.zones) for s in monitor.view.plan.subjects) == before - 1:
            break
    stop.set()
    await task
    assert sum(len(s.zones) for s in monitor.view.plan.subjects) == before - 1
    assert monitor.engine.plan is monitor.view.plan
    await journal.close()


async def test_the_plan_is_refreshed_while_the_journal_is_never_empty(sqlite_sessions: sessionmaker[Session],
                                                                     tmp_path: Path) -> None:
    """Under steady load every fetch returns reports; a zone change must reach the engine all the same."""
    devices = seed(sqlite_sessions)
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    backlog = stream(devices, 1500)
    await journal.append(backlog, protocol="kuzet")
    monitor = Monitor(sqlite_sessions, journal, batch=4, plan_refresh=timedelta(seconds=0.1))
    stop = asyncio.Event()
    task, before = await start_and_drop_a_zone(monitor, stop, sqlite_sessions)
    assert monitor.view is not None
    read_when_refreshed = None
    async with asyncio.timeout(60):
        while read_when_refreshed is None:
            await asyncio.sleep(0.02)
            if sum(len(s.zones) for s in monitor.view.plan.subjects) == before - 1:
                read_when_refreshed = monitor.offsets.get("embedded", 0)
    stop.set()
    await task
    await journal.close()
    assert read_when_refreshed < len(backlog)  # refreshed while reports were still waiting


@pytest.mark.nats
@pytest.mark.postgres
async def test_two_monitors_split_the_nats_partitions_and_resume_from_their_checkpoints() -> None:
    db_url = new_pg_database()
    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    devices = seed(sessions)
    reports = stream(devices, 40, strap_open_at=10)
    journal = NatsJournal("nats://127.0.0.1:4222", stream=f"KZT_TEST_{uuid.uuid4().hex[:8].upper()}", partitions=4)
    await journal.start()
    clock = lambda: reports[-1].received  # noqa: E731
    try:
        for r in reports[: len(reports) // 2]:
            await journal.append([r], protocol="teltonika")
        halves = ([0, 1], [2, 3])
        monitors = [Monitor(sessions, journal, name=f"m{i}", partitions=p, clock=clock,
                            checkpoint_every=timedelta(0)) for i, p in enumerate(halves)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(m.run(stop)) for m in monitors]
        async with asyncio.timeout(20):
            while sum(m.stats.reports for m in monitors) < len(reports) // 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)
        for r in reports[len(reports) // 2:]:
            await journal.append([r], protocol="teltonika")
        monitors = [Monitor(sessions, journal, name=f"m{i}", partitions=p, clock=clock)
                    for i, p in enumerate(halves)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(m.run(stop)) for m in monitors]
        async with asyncio.timeout(20):
            while counts(sessions)[0] < len(reports):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)
        positions, distinct, alerts = counts(sessions)
        assert positions == distinct == len(reports)
        assert sum(m.stats.reports for m in monitors) == len(reports) - len(reports) // 2
        assert alerts == len(alert_keys(sessions))
        assert alert_keys(sessions) == replayed_keys(sessions, reports)
    finally:
        await journal.delete_stream()
        await journal.close()
        engine.dispose()
        drop_pg_database(db_url)


async def test_an_absence_granted_while_the_monitor_runs_lifts_the_curfew_in_the_running_engine(
        sqlite_sessions: sessionmaker[Session], tmp_path: Path) -> None:
    from kuzet.alerts.models import AuthorisedAbsence
    from kuzet.store.models import Person

    sessions = sqlite_sessions
    devices = seed(sessions)  # S-0001's and S-0003's homes are far from the stream's position: curfew is broken
    journal = EmbeddedJournal(tmp_path / "journal.db")
    await journal.start()
    reports = stream([devices[0], devices[2]], 40)
    monitor = Monitor(sessions, journal, plan_refresh=timedelta(0), clock=lambda: reports[-1].received)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        async with asyncio.timeout(20):
            await monitor.ready.wait()
            assert monitor.view is not None
            before = monitor.view.fingerprint
            with transaction(sessions) as s:
                person = s.execute(select(Person).where(Person.code == "S-0001")).scalar_one()
                s.add(AuthorisedAbsence(person_id=person.id, start=T0 - timedelta(hours=1),
                                        end=T0 + timedelta(hours=3), reason="hospital"))
            while monitor.view.fingerprint == before:  # noqa: ASYNC110 - polls the monitor's plan
                await asyncio.sleep(0.05)
            await journal.append(reports, protocol="kuzet")
            while counts(sessions)[0] < len(reports):  # noqa: ASYNC110 - polls the store
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await journal.close()
    from kuzet.alerts.workflow import incident_of

    with sessions() as s:
        raised = list(s.execute(select(AlertRecord)).scalars())
        curfew = {a.subject_code for a in raised if a.target == "home"}
        # The monitor handed every raised alert to the alert workflow in its own transaction.
        assert raised and all(incident_of(s, a.id) is not None for a in raised)
    assert curfew == {"S-0003"}  # the same breach without an absence is still raised


@pytest.mark.parametrize("kind", ["embedded", "nats"])
async def test_proximity_is_decided_when_the_protected_persons_device_hashes_to_another_monitors_partition(
        kind: str, tmp_path: Path) -> None:
    """The clean example's S-0002 wears a bracelet in partition 1 of 4 and their protected person's phone
    hashes to partition 3; two monitors split the partitions 0-1 / 2-3. The gateway's routing (the journal's
    links, loaded by the device directory) sends the phone's reports to partition 1 as well, so the monitor
    of the wearer raises exactly the proximity alerts a single engine over everything raises."""
    bundle = read_bundle(EXAMPLES / "clean")
    wearer = next(s for s in bundle.plan.subjects if s.id == "S-0002")
    phone = wearer.protected_persons[0].device
    assert (partition_of(wearer.devices[0].id, 4), partition_of(phone, 4)) == (1, 3)
    if kind == "nats":
        db_url = new_pg_database()
        journal: Any = NatsJournal("nats://127.0.0.1:4222", stream=f"KZT_PP_{uuid.uuid4().hex[:8].upper()}",
                                   partitions=4)
    else:
        db_url = f"sqlite:///{tmp_path / 'kuzet.db'}"
        journal = EmbeddedJournal(tmp_path / "journal.db", partitions=4)
    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        with transaction(sessions) as session:
            import_bundle(session, Bundle(bundle.plan), region_code="TEST", fitted_at=T0 - timedelta(days=30))
        with sessions() as session:
            links = protected_links(session)
        assert links[phone] == [wearer.devices[0].id]
        journal.set_links(links)
        await journal.start()
        arrived = [r for _, r in bundle.reports]
        for i in range(0, len(arrived), 500):
            await journal.append(arrived[i:i + 500], protocol="kuzet")
        clock = lambda: arrived[-1].received  # noqa: E731
        monitors = [Monitor(sessions, journal, name=f"pp{i}", partitions=p, clock=clock)
                    for i, p in enumerate(([0, 1], [2, 3]))]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(m.run(stop)) for m in monitors]
        try:
            async with asyncio.timeout(120):
                while counts(sessions)[1] < len({(r.device, r.seq, r.time) for r in arrived}):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        expected = {k for k in replayed_keys(sessions, arrived) if k[1] == AlertType.PROXIMITY.value}
        stored = {k for k in alert_keys(sessions) if k[1] == AlertType.PROXIMITY.value}
        assert any(k[0] == "S-0002" for k in expected)
        assert stored == expected
    finally:
        if kind == "nats":
            await journal.delete_stream()
        await journal.close()
        engine.dispose()
        if kind == "nats":
            drop_pg_database(db_url)


def test_a_batch_of_upserts_hooks_exactly_the_raised_alerts(sessions: sessionmaker[Session]) -> None:
    """The monitor upserts a batch of episodes in one statement; the workflow hook (incident, notifications)
    must run for the raised ones, each on its own row, and for no other."""
    from kuzet.alerts.models import IncidentAlert
    from kuzet.domain.alerts import AlertEpisode
    from kuzet.domain.enums import Severity
    from kuzet.monitor.service import Owner, episode_key, upsert_alerts

    seed(sessions)
    with sessions() as s:
        view = load_plan(s)
    codes = sorted(view.subject_owner)[:3]
    older = AlertEpisode(codes[0], AlertType.STRAP_TAMPER, T0, T0, Severity.HIGH, device="d-0")
    with transaction(sessions) as s:  # already stored before the batch: an update, not a raise
        upsert_alerts(s, [older], view.subject_owner)
    batch = [older.closed(T0 + timedelta(minutes=1)),
             AlertEpisode(codes[1], AlertType.CASE_TAMPER, T0 + timedelta(seconds=5), T0, Severity.HIGH, device="d-1"),
             AlertEpisode(codes[2], AlertType.BATTERY_CRITICAL, T0 + timedelta(seconds=9), T0, Severity.LOW,
                          device="d-2")]
    raised = {episode_key(batch[2]), episode_key(batch[1])}
    with transaction(sessions) as s:
        assert upsert_alerts(s, batch, view.subject_owner, raised=raised, now=T0) == 3
    with sessions() as s:
        rows = {(a.subject_code, a.type): a for a in s.execute(select(AlertRecord)).scalars()}
        hooked = set(s.execute(select(IncidentAlert.alert_id)).scalars())
    assert len(rows) == 3
    assert rows[(codes[0], "strap_tamper")].end == T0 + timedelta(minutes=1)  # updated in place
    assert hooked == {rows[(codes[1], "case_tamper")].id, rows[(codes[2], "battery_critical")].id}
    assert all(isinstance(o, Owner) for o in view.subject_owner.values())


def test_a_batch_of_raised_alerts_is_grouped_as_one_by_one(sessions: sessionmaker[Session]) -> None:
    """The batch hook loads incidents once: alerts of one person raised in the same batch still share their
    incident, an earlier open incident of that person is joined, and another person gets their own."""
    from kuzet.alerts.models import Incident, IncidentAlert
    from kuzet.domain.alerts import AlertEpisode
    from kuzet.domain.enums import Severity
    from kuzet.monitor.service import episode_key, upsert_alerts

    seed(sessions)
    with sessions() as s:
        view = load_plan(s)
    a, b, c = sorted(view.subject_owner)[:3]
    earlier = AlertEpisode(c, AlertType.BATTERY_CRITICAL, T0 - timedelta(minutes=30), T0, Severity.LOW, device="d")
    with transaction(sessions) as s:
        upsert_alerts(s, [earlier], view.subject_owner, raised={episode_key(earlier)}, now=T0)
    batch = [AlertEpisode(a, AlertType.STRAP_TAMPER, T0, T0, Severity.HIGH, device="d-a"),
             AlertEpisode(a, AlertType.CASE_TAMPER, T0 + timedelta(minutes=5), T0, Severity.HIGH, device="d-a"),
             AlertEpisode(b, AlertType.STRAP_TAMPER, T0, T0, Severity.HIGH, device="d-b"),
             AlertEpisode(c, AlertType.STRAP_TAMPER, T0, T0, Severity.HIGH, device="d-c")]
    with transaction(sessions) as s:
        upsert_alerts(s, batch, view.subject_owner, raised={episode_key(e) for e in batch}, now=T0)
    with sessions() as s:
        links = s.execute(select(AlertRecord.subject_code, IncidentAlert.incident_id)
                          .join(IncidentAlert, IncidentAlert.alert_id == AlertRecord.id)).all()
        incident_of = {code: inc for code, inc in links}
        by_subject: dict[str, set[int]] = {}
        for code, inc in links:
            by_subject.setdefault(code, set()).add(inc)
        incidents = s.execute(select(func.count()).select_from(Incident)).scalar_one()
    assert len(by_subject[a]) == 1 and len(by_subject[b]) == 1 and len(by_subject[c]) == 1  # c joined its own
    assert len({incident_of[a], incident_of[b], incident_of[c]}) == 3
    assert incidents == 3
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(IncidentAlert)).scalar_one() == 5


async def test_the_monitor_reads_on_after_the_journal_was_unreadable(sqlite_sessions: sessionmaker[Session],
                                                                     tmp_path: Path) -> None:
    """A journal that fails to read (here its table is renamed away under the running monitor) is reported
    and read again until it is back; the monitor never stops for it, and nothing is lost."""
    import sqlite3

    devices = seed(sqlite_sessions)
    path = tmp_path / "journal.db"
    journal = EmbeddedJournal(path)
    await journal.start()
    reports = stream(devices, 8)
    half = len(reports) // 2
    await journal.append(reports[:half], protocol="kuzet")
    monitor = Monitor(sqlite_sessions, journal)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        async with asyncio.timeout(30):
            while counts(sqlite_sessions)[0] < half:  # noqa: ASYNC110 - polls the store
                await asyncio.sleep(0.05)
            with sqlite3.connect(path) as conn:
                conn.execute("ALTER TABLE journal RENAME TO journal_away")
            while monitor.stats.failures == 0:  # noqa: ASYNC110 - polls a counter
                await asyncio.sleep(0.05)
            with sqlite3.connect(path) as conn:
                conn.execute("ALTER TABLE journal_away RENAME TO journal")
            await journal.append(reports[half:], protocol="kuzet")
            while counts(sqlite_sessions)[0] < len(reports):  # noqa: ASYNC110 - polls the store
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await journal.close()
    assert "no such table" in monitor.stats.last_error
    assert counts(sqlite_sessions)[:2] == (len(reports), len(reports))
    assert task.exception() is None  # it ran until told to stop
