"""The periodic jobs of kuzet serve: each at its period, each in its own transaction, failures never fatal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.pipeline.jobs import JobScheduler, PeriodicJob, default_jobs
from kuzet.store.models import Region

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_jobs_run_at_their_periods_and_a_failing_job_is_rolled_back_without_stopping_the_others(
        sqlite_sessions: sessionmaker[Session]) -> None:
    ran: list[tuple[str, datetime]] = []

    def hourly(session: Session, now: datetime) -> Any:
        ran.append(("hourly", now))
        return now

    def broken(session: Session, now: datetime) -> Any:
        session.add(Region(code=f"X{len(ran)}", name="must be rolled back"))
        session.flush()
        raise RuntimeError("the job's store went away")

    def daily(session: Session, now: datetime) -> Any:
        ran.append(("daily", now))

    clock = Clock(T0)
    scheduler = JobScheduler(sqlite_sessions, [PeriodicJob("hourly", timedelta(hours=1), hourly),
                                               PeriodicJob("broken", timedelta(hours=1), broken),
                                               PeriodicJob("daily", timedelta(days=1), daily)], clock)
    first = scheduler.run_due()
    assert [(o.name, o.ok) for o in first] == [("hourly", True), ("broken", False), ("daily", True)]
    assert "the job's store went away" in first[1].error
    for minutes in range(10, 24 * 60 + 1, 10):  # a day, polled every ten minutes
        clock.now = T0 + timedelta(minutes=minutes)
        scheduler.run_due()
    assert [at for name, at in ran if name == "daily"] == [T0, T0 + timedelta(days=1)]
    assert [at for name, at in ran if name == "hourly"] == [T0 + timedelta(hours=h) for h in range(25)]
    assert sum(1 for o in scheduler.history if o.name == "broken" and not o.ok) == 25
    with sqlite_sessions() as s:
        assert s.execute(select(func.count()).select_from(Region).where(Region.name == "must be rolled back")
                         ).scalar_one() == 0


def test_the_deployment_jobs_run_against_a_migrated_store(sqlite_sessions: sessionmaker[Session]) -> None:
    scheduler = JobScheduler(sqlite_sessions, default_jobs(), Clock(T0))
    outcomes = scheduler.run_due()
    assert [o.name for o in outcomes] == ["partitions", "address-check", "fleet-health", "retention-purge"]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert outcomes[0].result == 0  # SQLite keeps one table
    assert scheduler.next_due == {"partitions": T0 + timedelta(hours=6),
                                  "address-check": T0 + timedelta(hours=1), "fleet-health": T0 + timedelta(days=1),
                                  "retention-purge": T0 + timedelta(days=1)}


def test_the_first_runs_wait_for_the_start_delay(sqlite_sessions: sessionmaker[Session]) -> None:
    ran: list[datetime] = []
    clock = Clock(T0)
    scheduler = JobScheduler(sqlite_sessions, [PeriodicJob("hourly", timedelta(hours=1),
                                                           lambda session, now: ran.append(now))],
                             clock, start_delay=timedelta(minutes=2))
    assert scheduler.run_due() == []
    clock.now = T0 + timedelta(minutes=2)
    assert [o.name for o in scheduler.run_due()] == ["hourly"]
    assert ran == [T0 + timedelta(minutes=2)]
