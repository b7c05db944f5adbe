"""The live monitor: reads the journal, runs the engine in arrival order, stores positions and alert episodes.

For each batch of journal entries, in one store transaction: the reports are stored as positions (idempotent
on their dedup key), the engine sees each report with ``now`` = its arrival time, the alert episodes it raises,
updates or closes are upserted on their episode key, and, at most every ``checkpoint_every``, the checkpoint
(journal offsets + engine snapshot) is written. After a crash the monitor restores the engine from the last
checkpoint and re-reads the journal from its offsets: positions are skipped as already stored and episodes
land on the same rows, so nothing is lost and no alert is raised twice.

Timers do not wait for data: when the engine's next deadline passes (a device gone silent), ``on_time`` is
called from the wall clock, but only once the journal has been read up to date, so a backlog is never
mistaken for silence.

The monitor must never acknowledge anything to a device, never call ``now()`` inside the engine, and never
write an alert outside the transaction that carries the matching checkpoint offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from kuzet.alerts.absences import absences_fingerprint
from kuzet.alerts.notifications import active_subscriptions, on_alert_raised
from kuzet.alerts.workflow import IncidentCache
from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.plan import MonitoringPlan
from kuzet.engine.core import fire_due
from kuzet.exchange.store_io import plan_for_people
from kuzet.journal.base import Journal, JournalEntry, JournalReader
from kuzet.store.db import upsert_insert
from kuzet.store.models import AlertRecord, Assignment, Device, Person, ProtectedPersonRecord, ZoneRecord
from kuzet.store.reports import report_to_record, store_reports

from .models import MonitorCheckpoint

log = logging.getLogger("kuzet.monitor")

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a device belongs to, for positions and alerts."""

    person_id: int
    region_id: int | None


@dataclass
class PlanView:
    """The plan the engine runs, and the lookups the monitor needs beside it."""

    plan: MonitoringPlan
    fingerprint: str
    device_owner: dict[str, int]
    subject_owner: dict[str, Owner]


@dataclass
class MonitorStats:
    reports: int = 0
    batches: int = 0
    alerts_written: int = 0
    checkpoints: int = 0
    failures: int = 0
    last_error: str = ""
    #: (arrival, stored) wall times of the reports that raised an alert, for the latency benchmark.
    alert_latencies: list[float] = field(default_factory=list)


def plan_fingerprint(session: Session) -> str:
    """A cheap digest of what the plan is built from: changes when zones, devices or people change."""
    parts: list[Any] = []
    # Shapes and schedules as the stored text: decoding every zone's JSON only to hash it again costs more
    # than the rest of the fingerprint together.
    parts += session.execute(select(ZoneRecord.id, ZoneRecord.person_id, ZoneRecord.active, ZoneRecord.grace_s,
                                    cast(ZoneRecord.shape, Text), cast(ZoneRecord.schedule, Text))
                             .order_by(ZoneRecord.id)).all()
    parts += session.execute(select(Assignment.id, Assignment.person_id, Assignment.removed_at)
                             .order_by(Assignment.id)).all()
    parts += session.execute(select(ProtectedPersonRecord.id, ProtectedPersonRecord.device_serial,
                                    ProtectedPersonRecord.distance_m, ProtectedPersonRecord.grace_s)
                             .order_by(ProtectedPersonRecord.id)).all()
    parts += session.execute(select(Person.id, Person.status, Person.communication_timeout_s)
                             .order_by(Person.id)).all()
    # Authorised absences lift inclusion zones: a grant or revocation must reach the running engine.
    parts += absences_fingerprint(session)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def load_plan(session: Session, devices: set[str] | None = None) -> PlanView:
    """The monitoring plan of everyone in the store (or of the people wearing one of ``devices``)."""
    fingerprint = plan_fingerprint(session)
    people = list(session.execute(
        select(Person).where(Person.status != "closed").order_by(Person.id)
        .options(selectinload(Person.zones), selectinload(Person.protected_persons))).scalars())
    plan = plan_for_people(session, people)
    if devices is not None:
        subjects = tuple(s for s in plan.subjects if any(d.id in devices for d in s.devices))
        plan = MonitoringPlan(plan.timezone, subjects, plan.extra)
    by_code = {p.code: p for p in people}
    subject_owner = {s.id: Owner(by_code[s.id].id, by_code[s.id].region_id) for s in plan.subjects}
    device_owner: dict[str, int] = dict(session.execute(
        select(Device.serial, Assignment.person_id).join(Assignment, Assignment.device_id == Device.id)
        .where(Assignment.removed_at.is_(None))).all())
    return PlanView(plan, fingerprint, device_owner, subject_owner)


def upsert_alerts(session: Session, episodes: Sequence[AlertEpisode], owners: dict[str, Owner],
                  *, raised: set[tuple[Any, ...]] | None = None, now: datetime | None = None) -> int:
    """Insert new episodes and update known ones on their key; workflow fields are never touched.

    For the episodes whose key is in ``raised`` (the engine raised them in this batch), the alert workflow's
    ``on_alert_raised`` queues their notifications in this same transaction (idempotent, nothing is sent here:
    the alert worker sends). A failure there is logged and rolled back to a savepoint, never fatal to
    monitoring: the alert worker announces alerts written without the hook on its next pass.
    """
    latest: dict[tuple[Any, ...], AlertEpisode] = {}
    for ep in episodes:
        latest[episode_key(ep)] = ep
    if not latest:
        return 0
    created = wall_clock()
    stmt = upsert_insert(session, AlertRecord)
    stmt = stmt.on_conflict_do_update(
        index_elements=["subject_code", "type", "target_key", "start"],
        set_={name: stmt.excluded[name] for name in ("end", "severity", "confidence", "late", "evidence", "rule",
                                                      "device")},
    ).returning(AlertRecord.id, sort_by_parameter_order=True)
    params = []
    for ep in latest.values():
        owner = owners.get(ep.subject)
        params.append({
            "person_id": owner.person_id if owner else None, "region_id": owner.region_id if owner else None,
            "subject_code": ep.subject, "device": ep.device, "type": ep.type.value, "target": ep.target,
            "target_key": ep.target or "", "start": ep.start, "end": ep.end, "raised_at": ep.raised_at,
            "severity": ep.severity.value, "confidence": ep.confidence, "late": ep.late,
            "evidence": list(ep.evidence), "rule": ep.rule, "status": "new", "outcome_note": "",
            "created_at": created,
        })
    # One statement for the batch (SQLAlchemy's "insertmanyvalues"), the ids back in the order of ``params``.
    returned = session.execute(stmt, params).scalars().all()
    ids: dict[tuple[Any, ...], int] = dict(zip(latest, returned, strict=True))
    hooked = sorted(k for k in ids if raised and k in raised)
    if hooked:
        _hook_raised(session, [ids[k] for k in hooked], now or created)
    return len(ids)


def _hook_raised(session: Session, alert_ids: Sequence[int], now: datetime) -> None:
    """The alert workflow's raise hook for a batch: incident grouping and queued notifications.

    What every hook reads is loaded once for the batch (the raised alerts, the active subscriptions, the
    people's open incidents), and the batch runs in one savepoint. If any hook fails, that savepoint is rolled
    back and each alert is hooked alone in its own, so that one bad alert cannot cost the others theirs.
    """
    alerts = session.execute(select(AlertRecord).where(AlertRecord.id.in_(alert_ids))).scalars().all()
    subscriptions = active_subscriptions(session)
    try:
        with session.begin_nested():
            incidents = IncidentCache.load(session, alerts)
            for alert_id in alert_ids:
                on_alert_raised(session, alert_id, now, send=False, subscriptions=subscriptions,
                                incidents=incidents)
        return
    except Exception:
        log.warning("the raise hook failed for a batch of %d alerts; hooking them one by one", len(alert_ids))
    for alert_id in alert_ids:
        try:
            with session.begin_nested():
                on_alert_raised(session, alert_id, now, send=False, subscriptions=subscriptions)
        except Exception:
            log.exception("queueing the notifications of alert %s failed; the alert worker will retry", alert_id)


def episode_key(ep: AlertEpisode) -> tuple[Any, ...]:
    """The key an episode is stored under (one row per episode)."""
    return (ep.subject, ep.type.value, ep.target or "", ep.start)


class Monitor:
    """Runs one engine over a set of journal partitions (all of them in the embedded service)."""

    def __init__(self, sessions: sessionmaker[Session], journal: Journal, *, name: str = "embedded",
                 partitions: Sequence[int] | None = None, batch: int = 2000,
                 checkpoint_every: timedelta = timedelta(seconds=30), plan_refresh: timedelta = timedelta(seconds=5),
                 timer_lag: timedelta = timedelta(seconds=1), clock: Clock = wall_clock,
                 engine_type: Any = None) -> None:
        self.sessions = sessions
        self.journal = journal
        self.name = name
        self.partitions = None if partitions is None else list(partitions)
        self.batch = batch
        self.checkpoint_every = checkpoint_every.total_seconds()
        self.plan_refresh = plan_refresh.total_seconds()
        self.timer_lag = timer_lag
        self.clock = clock
        self.engine_type = engine_type
        self.stats = MonitorStats()
        self.engine: Any = None
        self.view: PlanView | None = None
        self.offsets: dict[str, int] = {}
        self._checkpoint_offsets: dict[str, int] = {}
        self._snapshot: bytes | None = None
        self._last_checkpoint = 0.0
        self._snapshot_s = 0.0
        self._last_plan_check = 0.0
        self._plan_check_s = 0.0
        self._last_now: datetime | None = None
        self._reader: JournalReader | None = None
        self.ready = asyncio.Event()
        self.caught_up = asyncio.Event()

    # -- engine state --------------------------------------------------------------------------------
    def _owned_devices(self, session: Session) -> set[str] | None:
        if self.partitions is None or len(self.partitions) >= self.journal.partitions:
            return None
        from kuzet.journal.base import partition_of

        wanted = set(self.partitions)
        serials = session.execute(select(Device.serial)).scalars().all()
        return {s for s in serials if partition_of(s, self.journal.partitions) in wanted}

    def _restore(self) -> None:
        """Load the plan and the last checkpoint; build the engine from its snapshot."""
        if self.engine_type is None:
            from kuzet.engine import Engine as KuzetEngine

            self.engine_type = KuzetEngine
        engine_type: Any = self.engine_type
        with self.sessions() as session:
            self.view = load_plan(session, self._owned_devices(session))
            row = session.get(MonitorCheckpoint, self.name)
            if row is None:
                self.engine = engine_type(self.view.plan)
                self.offsets = {}
                self._snapshot = None
            else:
                self.engine = engine_type.restore(self.view.plan, row.snapshot)
                self.offsets = {k: int(v) for k, v in row.offsets.items()}
                self._snapshot = row.snapshot
        self._checkpoint_offsets = dict(self.offsets)
        self._last_now = None

    async def _open_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.close()
        self._reader = await self.journal.reader(self.name, self.partitions, self.offsets)

    # -- one transaction -------------------------------------------------------------------------------
    def _now_for(self, arrival: datetime) -> datetime:
        now = arrival if self._last_now is None or arrival > self._last_now else self._last_now
        self._last_now = now
        return now

    def _write(self, entries: Sequence[JournalEntry], timer_now: datetime | None) -> bool:
        """Apply a batch (or a timer tick) in one transaction. Returns whether a checkpoint was written."""
        assert self.view is not None
        view = self.view
        changes: list[Any] = []
        with self.sessions() as session, session.begin():
            fresh = [e for e in entries if e.offset > self.offsets.get(e.stream, 0)]
            if fresh:
                store_reports(session, [report_to_record(e.report, view.device_owner.get(e.report.device),
                                                         protocol=e.protocol) for e in fresh])
                changes += self._evaluate(fresh)
            if timer_now is not None:
                changes += self.engine.on_time(self._now_for(timer_now))
            episodes = [c.episode for c in changes]
            raised = {episode_key(c.episode) for c in changes if c.kind == "raised"}
            written = upsert_alerts(session, episodes, view.subject_owner, raised=raised,
                                    now=self.clock())
            checkpoint = self._checkpoint_due()
            if checkpoint:
                began = time.perf_counter()
                snapshot = self.engine.snapshot()
                self._snapshot_s = time.perf_counter() - began
                row = session.get(MonitorCheckpoint, self.name)
                if row is None:
                    session.add(MonitorCheckpoint(name=self.name, offsets=dict(self.offsets), snapshot=snapshot,
                                                  plan_fingerprint=view.fingerprint, updated_at=wall_clock()))
                else:
                    row.offsets = dict(self.offsets)
                    row.snapshot = snapshot
                    row.plan_fingerprint = view.fingerprint
                    row.updated_at = wall_clock()
        self.stats.reports += len(fresh)
        self.stats.batches += 1
        self.stats.alerts_written += written
        if written and fresh:
            stored = time.time()
            for c in changes:
                if c.kind == "raised":
                    self.stats.alert_latencies.append(stored - _arrival_epoch(c.episode, fresh))
        if checkpoint:
            self._snapshot = snapshot
            self._checkpoint_offsets = dict(self.offsets)
            self._last_checkpoint = time.monotonic()
            self.stats.checkpoints += 1
        return checkpoint

    def _evaluate(self, fresh: Sequence[JournalEntry]) -> list[Any]:
        """Run the engine over ``fresh`` in arrival order, as replay does: timers due by a report's arrival
        fire first. The whole batch goes to the engine's batch path with each report's arrival
        (``on_reports(arrivals=...)``), which gives what one ``on_report`` call each gives and decides the
        reports that change nothing in bulk."""
        if not fresh:
            return []
        nows = [self._now_for(e.report.received) for e in fresh]
        batch_path = getattr(self.engine, "on_reports", None)
        changes: list[Any] = self._fire_due(nows[0])
        if batch_path is not None:
            changes += batch_path([e.report for e in fresh], arrivals=nows)
        else:
            for e, now in zip(fresh, nows, strict=True):
                changes += self._fire_due(now)
                changes += self.engine.on_report(e.report, now=now)
        for e in fresh:
            if e.offset > self.offsets.get(e.stream, 0):
                self.offsets[e.stream] = e.offset
        return changes

    def _fire_due(self, now: datetime) -> list[Any]:
        """Timers that fell due by ``now``, fired at their own due time (as ``kuzet replay`` does)."""
        return fire_due(self.engine, now)

    def _checkpoint_due(self) -> bool:
        # A snapshot costs CPU in proportion to the engine's state: keep that under ~5% of the time.
        interval = max(self.checkpoint_every, 20 * self._snapshot_s)
        return time.monotonic() - self._last_checkpoint >= interval

    def _refresh_plan(self) -> bool:
        assert self.view is not None
        with self.sessions() as session:
            if plan_fingerprint(session) == self.view.fingerprint:
                return False
            view = load_plan(session, self._owned_devices(session))
        self.engine.update_plan(view.plan)
        self.view = view
        self._last_checkpoint = 0.0  # the next write checkpoints under the new plan
        log.info("plan refreshed: %d subjects", len(view.plan.subjects))
        return True

    async def _guarded(self, entries: Sequence[JournalEntry], timer_now: datetime | None) -> None:
        """Write, or on a store failure roll the engine back to the checkpoint and re-read from there."""
        delay = 0.2
        while True:
            try:
                checkpointed = await asyncio.to_thread(self._write, entries, timer_now)
            except Exception as exc:
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("store write failed, retrying from the checkpoint: %s", self.stats.last_error)
                # The engine may hold half of the failed batch: go back to the checkpoint, however long the
                # store takes to return, then re-read the journal from there.
                while True:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    try:
                        await asyncio.to_thread(self._restore)
                        await self._open_reader()
                        return
                    except Exception as exc2:
                        self.stats.last_error = f"{type(exc2).__name__}: {exc2}"
            if checkpointed and self._reader is not None:
                await self._reader.confirm(self._checkpoint_offsets)
            return

    # -- the loop ---------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self._restore)
                break
            except Exception as exc:  # the store is not there yet: wait for it
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("monitor cannot load its checkpoint yet: %s", self.stats.last_error)
                await asyncio.sleep(1.0)
        if stop.is_set():
            return
        while not stop.is_set():
            try:
                await self._open_reader()
                break
            except Exception as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(1.0)
        self.ready.set()
        self._last_plan_check = time.monotonic()
        try:
            delay = 0.2
            reopen = False
            while not stop.is_set():
                try:
                    if reopen:  # from the offsets processed so far
                        await self._open_reader()
                        reopen = False
                    assert self._reader is not None
                    entries = await self._reader.fetch(self.batch, self._wait_s())
                    delay = 0.2
                except Exception as exc:  # the journal is away or damaged: report it, wait, read again
                    self.stats.failures += 1
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    log.error("reading the journal failed, reading again in %.1f s: %s", delay,
                              self.stats.last_error)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 5.0)
                    reopen = True
                    continue
                if entries:
                    self.caught_up.clear()
                    await self._guarded(entries, None)
                else:
                    self.caught_up.set()
                    now = self.clock() - self.timer_lag
                    deadline = self.engine.next_deadline()
                    if deadline is not None and deadline <= now:
                        await self._guarded((), now)
                    elif self._checkpoint_due() and self.offsets != self._checkpoint_offsets:
                        await self._guarded((), None)
                # Checked under load too: with reports arriving all the time the journal is never empty, and a
                # zone an officer draws must still reach the engine. Like checkpoints, plan checks are spaced
                # to stay under ~5% of the time: a country's plan is hundreds of thousands of rows to
                # fingerprint.
                if time.monotonic() - self._last_plan_check >= max(self.plan_refresh, 20 * self._plan_check_s):
                    started = time.monotonic()
                    with contextlib.suppress(Exception):
                        if await asyncio.to_thread(self._refresh_plan):
                            await self._guarded((), None)
                    self._last_plan_check = time.monotonic()
                    self._plan_check_s = self._last_plan_check - started
        finally:
            if self._reader is not None:
                with contextlib.suppress(Exception):
                    await self._reader.close()

    def _wait_s(self) -> float:
        deadline = self.engine.next_deadline() if self.engine is not None else None
        if deadline is None:
            return 0.2
        left = (deadline + self.timer_lag - self.clock()).total_seconds()
        return float(max(0.0, min(0.2, left)))


def _arrival_epoch(episode: AlertEpisode, entries: Sequence[JournalEntry]) -> float:
    for e in reversed(entries):
        if e.report.device == episode.device:
            return e.report.received.timestamp()
    return entries[-1].report.received.timestamp()


def count_positions(session: Session) -> int:
    from kuzet.store.models import DeviceReportRecord

    return int(session.execute(select(func.count()).select_from(DeviceReportRecord)).scalar_one())
