"""Leases: the alert worker and the periodic jobs run in one process at a time, whichever processes run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.alerts.models import Delivery
from kuzet.alerts.notifications import run_alert_worker, subscribe
from kuzet.monitor.models import WorkerLease
from kuzet.pipeline.jobs import JobScheduler, PeriodicJob
from kuzet.pipeline.leases import take_lease
from tests.alerts.factories import alert, centre, person
from tests.alerts.servers import smtp_server
from tests.alerts.test_notifications import transports

T = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _take(sessions: sessionmaker[Session], holder: str, at: datetime, ttl: timedelta = timedelta(minutes=1)) -> bool:
    with sessions() as s, s.begin():
        return take_lease(s, "work", holder, at, ttl)


def test_a_lease_is_held_renewed_and_taken_over_only_once_expired(sessions: sessionmaker[Session]) -> None:
    assert _take(sessions, "a", T)
    assert not _take(sessions, "b", T + timedelta(seconds=30))  # held by a
    assert _take(sessions, "a", T + timedelta(seconds=50))  # renewed until T + 110 s
    assert not _take(sessions, "b", T + timedelta(seconds=100))
    assert _take(sessions, "b", T + timedelta(seconds=111))  # a stopped renewing: b takes over
    assert not _take(sessions, "a", T + timedelta(seconds=120))
    with sessions() as s:
        lease = s.execute(select(WorkerLease)).scalar_one()
    assert (lease.holder, lease.taken_at, lease.expires_at) == ("b", T + timedelta(seconds=111),
                                                                T + timedelta(seconds=171))


def test_two_schedulers_on_one_store_run_each_job_once(sessions: sessionmaker[Session]) -> None:
    runs: list[str] = []
    now = [T]
    job = PeriodicJob("count", timedelta(minutes=1), lambda s, at: runs.append(at.isoformat()))
    first = JobScheduler(sessions, jobs=[job], clock=lambda: now[0], holder="first")
    second = JobScheduler(sessions, jobs=[job], clock=lambda: now[0], holder="second")
    for minute in range(5):
        now[0] = T + timedelta(minutes=minute)
        first.run_due()
        second.run_due()
    assert len(runs) == 5  # once a minute, not twice
    assert second.history == []
    # the first process stops: the second takes over once the lease (2 minutes) has run out
    for minute in range(5, 10):
        now[0] = T + timedelta(minutes=minute)
        second.run_due()
    assert [o.at for o in second.history] == [T + timedelta(minutes=m) for m in (7, 8, 9)]


def test_a_restarted_scheduler_does_not_rerun_a_daily_job(sessions: sessionmaker[Session]) -> None:
    runs: list[datetime] = []
    now = [T]
    job = PeriodicJob("daily", timedelta(days=1), lambda s, at: runs.append(at))
    JobScheduler(sessions, jobs=[job], clock=lambda: now[0], holder="before").run_due()
    assert runs == [T]
    after = JobScheduler(sessions, jobs=[job], clock=lambda: now[0], holder="after")
    for hours in (0.01, 1, 5, 23.9):
        now[0] = T + timedelta(hours=hours)
        after.run_due()  # the old process's lease runs out after 2 minutes; the job is done until T + 1 day
    assert runs == [T]
    now[0] = T + timedelta(days=1)
    after.run_due()
    assert runs == [T, T + timedelta(days=1)]


def test_two_alert_workers_send_a_message_once(sessions: sessionmaker[Session]) -> None:
    with smtp_server() as (port, inbox):
        t = transports(port)
        with sessions() as s, s.begin():
            c = centre(s)
            subscribe(s, channel="email", address="duty@ala.kz", region_id=c.region.id, min_severity="high")
            alert(s, person(s, c, "A-1"), severity="high", raised_at=T)

        async def both() -> None:
            stop = asyncio.Event()
            workers = [asyncio.create_task(run_alert_worker(sessions, stop, clock=lambda: T + timedelta(minutes=1),
                                                            interval=timedelta(seconds=0.05), transports=t,
                                                            holder=name)) for name in ("w1", "w2")]
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*workers)

        asyncio.run(both())
        with sessions() as s:
            sent = s.execute(select(Delivery)).scalars().all()
            holder = s.execute(select(WorkerLease.holder).where(WorkerLease.name == "alert-worker")).scalar_one()
    assert [(d.recipient, d.status) for d in sent] == [("duty@ala.kz", "sent")]
    assert len(inbox.messages) == 1
    assert holder in ("w1", "w2")
