"""Retention: a purge across the retention boundary, with court holds in place, logged and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import Actor, verify
from kuzet.domain.geometry import Circle
from kuzet.privacy.matching import CrimeSceneQuery, match_crime_scene
from kuzet.privacy.models import PositionCell, PurgeLogEntry, TrailHour
from kuzet.privacy.retention import DataCategory, HoldError, place_hold, purge, release_hold
from kuzet.settings import Settings
from kuzet.store.models import AlertAction, AlertRecord, AuditEntry, DeviceReportRecord

from .factories import SCENE, east_of_scene, fix, organisation, store_and_index, wearer

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAYS = {"positions": 30, "alerts": 90, "audit": 365, "documents": 365}
SETTINGS = Settings(retention_days=DAYS)
CUTOFF = NOW - timedelta(days=30)
ADMIN = Actor(1, "a.admin", "administrator")


def times(session: Session, person_id: int) -> list[datetime]:
    return list(session.execute(select(DeviceReportRecord.time).where(DeviceReportRecord.person_id == person_id)
                                .order_by(DeviceReportRecord.time)).scalars())


@pytest.fixture
def two_wearers(sessions: sessionmaker[Session]) -> tuple[sessionmaker[Session], int, int]:
    """Two people with a fix every 20 minutes from 2 h before the cut-off to 2 h after it, and alerts."""
    with sessions.begin() as session:
        unit = organisation(session)
        held = wearer(session, unit, "HELD", NOW - timedelta(days=400))
        free = wearer(session, unit, "FREE", NOW - timedelta(days=400))
        rows = [fix(w, CUTOFF + timedelta(minutes=m), *east_of_scene(50.0), 8.0)
                for w in (held, free) for m in range(-120, 121, 20)]
        store_and_index(session, rows)
        for w, code in ((held, "HELD"), (free, "FREE")):
            old = AlertRecord(person_id=w.person.id, subject_code=code, type="strap_tamper", target_key="",
                              start=NOW - timedelta(days=200), end=NOW - timedelta(days=199),
                              raised_at=NOW - timedelta(days=200), severity="critical", status="closed")
            open_old = AlertRecord(person_id=w.person.id, subject_code=code, type="no_fix", target_key="",
                                   start=NOW - timedelta(days=150), end=None, raised_at=NOW - timedelta(days=150),
                                   severity="warning")
            recent = AlertRecord(person_id=w.person.id, subject_code=code, type="battery_low", target_key="",
                                 start=NOW - timedelta(days=10), end=NOW - timedelta(days=9),
                                 raised_at=NOW - timedelta(days=10), severity="warning", status="closed")
            session.add_all([old, open_old, recent])
            session.flush()
            session.add(AlertAction(alert_id=old.id, kind="close", note="checked", at=old.raised_at))
        return sessions, held.person.id, free.person.id


def test_purge_deletes_only_what_expired_and_keeps_what_a_court_hold_protects(
        two_wearers: tuple[sessionmaker[Session], int, int]) -> None:
    sessions, held_id, free_id = two_wearers
    with sessions.begin() as session:
        place_hold(session, ADMIN, case_reference="2-1234/2026", reason="appeal pending", person_id=held_id)
        report = purge(session, now=NOW, settings=SETTINGS, actor=ADMIN)
    with sessions() as session:
        # The free person's fixes before the cut-off are gone; the one exactly at the cut-off stays.
        assert times(session, free_id) == [CUTOFF + timedelta(minutes=m) for m in range(0, 121, 20)]
        assert len(times(session, held_id)) == 13
        cells = session.execute(select(PositionCell.person_id, func.count()).group_by(PositionCell.person_id)
                                ).all()
        assert dict(cells) == {held_id: 13, free_id: 7}
        # The per-hour summaries follow the fixes: only the free person's hours from the cut-off on remain.
        hours = {(h.person_id, h.hour): h.fixes for h in session.execute(select(TrailHour)).scalars()}
        free_hours = {k[1]: v for k, v in hours.items() if k[0] == free_id}
        assert free_hours == {CUTOFF: 3, CUTOFF + timedelta(hours=1): 3, CUTOFF + timedelta(hours=2): 1}
        assert sum(v for k, v in hours.items() if k[0] == held_id) == 13
        # Alerts: the old closed one of the free person is gone with its actions; open and recent ones stay.
        alerts = session.execute(select(AlertRecord.subject_code, AlertRecord.type)).all()
        assert sorted(alerts) == sorted([("HELD", "strap_tamper"), ("HELD", "no_fix"), ("HELD", "battery_low"),
                                         ("FREE", "no_fix"), ("FREE", "battery_low")])
        assert session.execute(select(func.count()).select_from(AlertAction)).scalar() == 1
        log = {e.category: e for e in session.execute(select(PurgeLogEntry)).scalars()}
        assert (log["positions"].deleted, log["positions"].held) == (6, 6)
        assert log["positions"].oldest == CUTOFF - timedelta(minutes=120)
        assert log["positions"].newest == CUTOFF - timedelta(minutes=20)
        assert (log["alerts"].deleted, log["alerts"].held) == (1, 1)
        assert {e.run_id for e in log.values()} == {report.run_id}
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "purge")).scalar_one()
        assert entry.object_id == report.run_id
        assert {c["category"]: c["deleted"] for c in entry.detail["categories"]}["positions"] == 6
        assert verify(session).ok


def test_a_hold_on_a_time_range_keeps_that_range_for_everyone(
        two_wearers: tuple[sessionmaker[Session], int, int]) -> None:
    sessions, held_id, free_id = two_wearers
    with sessions.begin() as session:
        place_hold(session, ADMIN, case_reference="2-77/2026", reason="incident under investigation",
                   range_start=CUTOFF - timedelta(minutes=60), range_end=CUTOFF - timedelta(minutes=20))
        report = purge(session, now=NOW, settings=SETTINGS, actor=ADMIN, categories=(DataCategory.POSITIONS,))
    with sessions() as session:
        kept_before = [CUTOFF - timedelta(minutes=60), CUTOFF - timedelta(minutes=40)]
        after = [CUTOFF + timedelta(minutes=m) for m in range(0, 121, 20)]
        assert times(session, free_id) == kept_before + after
        assert times(session, held_id) == kept_before + after
        assert report.categories[0].deleted == 8 and report.categories[0].held == 4
        # The crime-scene index holds exactly what the store holds.
        indexed = session.execute(select(func.count()).select_from(PositionCell)).scalar()
        assert indexed == 18
        hours = session.execute(select(func.sum(TrailHour.fixes))).scalar()
        assert hours == 18


def test_after_release_the_held_data_expires_like_any_other(
        two_wearers: tuple[sessionmaker[Session], int, int]) -> None:
    sessions, held_id, _ = two_wearers
    with sessions.begin() as session:
        hold = place_hold(session, ADMIN, case_reference="2-1234/2026", reason="appeal", person_id=held_id)
        purge(session, now=NOW, settings=SETTINGS)
        release_hold(session, ADMIN, hold.id, reason="appeal decided")
        with pytest.raises(HoldError, match="already released"):
            release_hold(session, ADMIN, hold.id, reason="again")
        purge(session, now=NOW, settings=SETTINGS)
        assert times(session, held_id)[0] == CUTOFF
        # A crime-scene question over the purged window finds nothing: the index lost those fixes too.
        police = Actor(9, "p.liaison", "police_liaison")
        q = CrimeSceneQuery(Circle(centre=SCENE, radius_m=500), CUTOFF - timedelta(hours=2), CUTOFF, "KUI-9",
                            "check after purge")
        result = match_crime_scene(session, police, q)
        assert result.within == [] and result.possibly_within == []


def test_the_audit_trail_is_pruned_from_its_start_and_still_verifies(sessions: sessionmaker[Session]) -> None:
    """Expired audit entries go from the start of the chain; an entry under a court hold, and everything
    after it, stays; the pruned chain verifies from its signed start, anchors taken before still hold, and
    tampering afterwards is still found."""
    from kuzet.audit import record
    from kuzet.audit.anchor import verify_trail, write_anchor
    from kuzet.audit.models import AuditChainStart

    key = SETTINGS.secret_key
    with sessions.begin() as session:
        unit = organisation(session)
        held_person = wearer(session, unit, "HELD", NOW - timedelta(days=900)).person.id
        for days, person in ((800, None), (700, None), (600, held_person), (500, None), (10, None)):
            record(session, ADMIN, "read", "person", 1, person_id=person, purpose=f"{days} days ago",
                   at=NOW - timedelta(days=days))
        write_anchor(session, key)
        hold_id = place_hold(session, ADMIN, case_reference="CASE-7", reason="appeal", person_id=held_person).id
    with sessions.begin() as session:
        before = [e.purpose for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
        report = purge(session, now=NOW, settings=SETTINGS)
        audit = next(c for c in report.categories if c.category.value == "audit")
    with sessions() as session:
        kept = [e.purpose for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
        # The two entries before the held one are gone; the held one and the expired one after it stay.
        assert kept[:3] == ["600 days ago", "500 days ago", "10 days ago"]
        assert before[:2] == ["800 days ago", "700 days ago"] and before[2:] == kept[:len(before) - 2]
        assert audit.deleted == 2 and audit.held == 1 and audit.detail["kept_for_chain"] == 1
        assert verify(session).ok
        assert verify_trail(session, key).ok, verify_trail(session, key).problems
        start = session.execute(select(AuditChainStart)).scalar_one()
        assert start.deleted == 2 and start.deleted_total == 2

    with sessions.begin() as session:  # the hold is released: the next purge takes the rest that expired
        release_hold(session, ADMIN, hold_id, reason="appeal decided")
        audit = next(c for c in purge(session, now=NOW, settings=SETTINGS).categories
                     if c.category.value == "audit")
        assert audit.deleted == 2 and audit.held == 0
    with sessions() as session:
        kept = [e.purpose for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
        assert kept[0] == "10 days ago"
        assert verify_trail(session, key).ok, verify_trail(session, key).problems
        latest = session.execute(select(AuditChainStart).order_by(AuditChainStart.id.desc())).scalars().first()
        assert latest is not None and latest.deleted_total == 4
    with sessions.begin() as session:  # deleting the new first entry by hand is detected
        first = session.execute(select(AuditEntry).order_by(AuditEntry.id).limit(1)).scalar_one()
        session.delete(first)
    with sessions() as session:
        assert not verify(session).ok
        assert not verify_trail(session, key).ok


def test_a_forged_chain_start_is_detected_with_the_key(sessions: sessionmaker[Session]) -> None:
    """Deleting the oldest entries by hand and writing a chain start without the key: the chain alone
    then verifies, the signed check does not."""
    from kuzet.audit import record
    from kuzet.audit.anchor import verify_trail
    from kuzet.audit.chain import start_mac
    from kuzet.audit.models import AuditChainStart

    with sessions.begin() as session:
        for days in (30, 20, 10):
            record(session, ADMIN, "read", "person", 1, purpose=f"{days}", at=NOW - timedelta(days=days))
    with sessions.begin() as session:
        first, second = session.execute(select(AuditEntry).order_by(AuditEntry.id).limit(2)).scalars().all()
        session.add(AuditChainStart(at=NOW, first_entry_id=second.id, prev_hash=first.hash, deleted=1,
                                    deleted_total=1, mac=start_mac("not-the-key", second.id, first.hash, 1)))
        session.delete(first)
    with sessions() as session:
        assert verify(session).ok
        problems = verify_trail(session, SETTINGS.secret_key).problems
        assert any("chain start" in p for p in problems)


def test_a_chain_that_does_not_verify_is_not_pruned(sessions: sessionmaker[Session]) -> None:
    from kuzet.audit import record

    with sessions.begin() as session:
        for days in (800, 700, 10):
            record(session, ADMIN, "read", "person", 1, purpose=f"{days}", at=NOW - timedelta(days=days))
    with sessions.begin() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.id).limit(1)).scalar_one()
        entry.purpose = "edited"  # tampering with an old entry
    with sessions.begin() as session:
        report = purge(session, now=NOW, settings=SETTINGS)
        audit = next(c for c in report.categories if c.category.value == "audit")
        assert audit.deleted == 0 and "does not verify" in audit.detail["refused"]
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 4  # + the purge


def test_a_hold_needs_a_case_reference_and_a_forward_range() -> None:
    with pytest.raises(HoldError, match="case reference"):
        place_hold(None, ADMIN, case_reference=" ", reason="x")  # type: ignore[arg-type]
    with pytest.raises(HoldError, match="end after"):
        place_hold(None, ADMIN, case_reference="2-1/2026", reason="x",  # type: ignore[arg-type]
                   range_start=NOW, range_end=NOW - timedelta(hours=1))
