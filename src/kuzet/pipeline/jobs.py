"""Periodic jobs of a deployment, run by ``kuzet serve``: partitions ahead, address checks, fleet health,
retention purge.

Each job runs in its own transaction at its own period; a job that raises is logged and rolled back, and
neither stops the scheduler nor the other jobs (it is tried again at its next period). The clock is injected
so that the schedule can be tested without waiting.

This module must never hold rules of its own: it only calls the owning areas' service functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kuzet.pipeline.leases import held_until, holder_id, record_until, take_lease

log = logging.getLogger("kuzet.jobs")

Clock = Callable[[], datetime]
JobFunction = Callable[[Session, datetime], Any]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """``run(session, now)`` every ``every``; the first run is due at start-up."""

    name: str
    every: timedelta
    run: JobFunction


@dataclass
class JobOutcome:
    name: str
    at: datetime
    ok: bool
    result: Any = None
    error: str = ""


def check_pending_fittings_job(session: Session, now: datetime) -> Any:
    from kuzet.devices.addresscheck import check_pending_fittings

    return len(check_pending_fittings(session, now=now))


def snapshot_fleet_health_job(session: Session, now: datetime) -> Any:
    from kuzet.devices.health import snapshot_fleet_health

    return snapshot_fleet_health(session, now=now)


def retention_purge_job(session: Session, now: datetime) -> Any:
    """The privacy area's general purge (positions through ``kuzet.pipeline.retention.purge_positions``)."""
    from kuzet.privacy.retention import purge

    return purge(session, now=now).to_json()


def partitions_job(session: Session, now: datetime) -> Any:
    """Daily partitions of the positions kept ready ahead (PostgreSQL; nothing to do on SQLite)."""
    from kuzet.store.partitions import maintain

    return maintain(session.connection(), now)


def default_jobs() -> tuple[PeriodicJob, ...]:
    return (
        PeriodicJob("partitions", timedelta(hours=6), partitions_job),
        PeriodicJob("address-check", timedelta(hours=1), check_pending_fittings_job),
        PeriodicJob("fleet-health", timedelta(days=1), snapshot_fleet_health_job),
        PeriodicJob("retention-purge", timedelta(days=1), retention_purge_job),
    )


@dataclass
class JobScheduler:
    sessions: sessionmaker[Session]
    jobs: Sequence[PeriodicJob] = field(default_factory=default_jobs)
    clock: Clock = field(default=lambda: datetime.now(UTC))
    #: The first runs wait this long after the first poll (start-up belongs to the monitor and the gateway).
    start_delay: timedelta = timedelta(0)
    next_due: dict[str, datetime] = field(default_factory=dict)
    history: list[JobOutcome] = field(default_factory=list)
    #: Who this scheduler is for the ``periodic-jobs`` lease: only its holder runs jobs.
    holder: str = field(default_factory=holder_id)
    lease: timedelta = timedelta(minutes=2)
    _holding: bool = field(default=False, init=False)  # held the lease at the last poll

    def _holds_lease(self) -> bool:
        try:
            with self.sessions() as session, session.begin():
                return take_lease(session, "periodic-jobs", self.holder, self.clock(), self.lease)
        except Exception:
            log.exception("periodic jobs: the lease could not be taken; trying again at the next poll")
            return False

    def _stored_due(self) -> dict[str, datetime]:
        """When each job is next due by the runs recorded in the store (a restart does not rerun them)."""
        try:
            with self.sessions() as session:
                stored = held_until(session, "job:")
        except Exception:
            log.exception("periodic jobs: their last runs could not be read; running them as due now")
            return {}
        return {name.removeprefix("job:"): until for name, until in stored.items()}

    def run_due(self) -> list[JobOutcome]:
        """Run every job due at the clock's now, each in its own transaction; never raises.

        Only the holder of the ``periodic-jobs`` lease runs them: another ``kuzet serve`` on the same store
        waits, and takes over once the lease has expired.
        """
        outcomes = []
        if not self._holds_lease():
            self._holding = False
            return []
        if not self._holding:  # just took the jobs over (start-up, or from a process that stopped)
            self._holding = True
            stored = self._stored_due()
            if not self.next_due and self.start_delay:
                first = self.clock() + self.start_delay
                self.next_due = {job.name: first for job in self.jobs}
            for name, due in stored.items():
                self.next_due[name] = max(due, self.next_due.get(name, due))
        for job in self.jobs:
            now = self.clock()
            due = self.next_due.get(job.name, now)
            if due > now:
                continue
            try:
                with self.sessions() as session, session.begin():
                    result = job.run(session, now)
                    # done until its next run, for whichever process runs the jobs after a restart
                    record_until(session, f"job:{job.name}", self.holder, now + job.every, now)
                outcome = JobOutcome(job.name, now, True, result)
            except Exception as exc:
                log.exception("periodic job %s failed; next try in %s", job.name, job.every)
                outcome = JobOutcome(job.name, now, False, error=f"{type(exc).__name__}: {exc}")
            self.next_due[job.name] = now + job.every
            outcomes.append(outcome)
        self.history += outcomes
        del self.history[:-100]
        return outcomes

    async def run(self, stop: asyncio.Event, *, poll: timedelta = timedelta(seconds=30)) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.run_due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll.total_seconds())
