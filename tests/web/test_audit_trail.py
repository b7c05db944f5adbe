"""The audit trail records every read of personal data and shows any edit or deletion of its rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import Actor, record
from kuzet.audit.anchor import anchor_if_moved, verify_trail, write_anchor
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.store.models import AuditEntry

from .world import World

KEY = "test-secret-key-0123456789"


@pytest.fixture
def trail(tmp_path: Path) -> tuple[str, sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    factory = session_factory(make_engine(url))
    actor = Actor(1, "officer", "officer")
    with factory() as s, s.begin():
        for i in range(10):
            record(s, actor, "read", "trail", i, person_id=i, purpose="case review")
    return url, factory


def _kuzet(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUZET_DATABASE_URL": url, "KUZET_SECRET_KEY": KEY}
    return subprocess.run([sys.executable, "-m", "kuzet.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_an_intact_trail_verifies(trail: tuple[str, sessionmaker[Session]]) -> None:
    _, factory = trail
    with factory() as s:
        report = verify_trail(s, KEY)
    assert report.ok and report.entries == 10


def test_an_edited_row_is_detected(trail: tuple[str, sessionmaker[Session]]) -> None:
    url, factory = trail
    with factory() as s, s.begin():
        s.execute(update(AuditEntry).where(AuditEntry.id == 4).values(purpose="nothing to see"))
    with factory() as s:
        report = verify_trail(s, KEY)
    assert not report.ok and "entry 4" in report.problems[0]
    result = _kuzet(url, "audit", "verify")
    assert result.returncode == 1 and "entry 4" in result.stderr


def test_a_deleted_row_is_detected(trail: tuple[str, sessionmaker[Session]]) -> None:
    url, factory = trail
    with factory() as s, s.begin():
        s.execute(delete(AuditEntry).where(AuditEntry.id == 6))
    with factory() as s:
        report = verify_trail(s, KEY)
    assert not report.ok and "entry 7" in report.problems[0]
    assert _kuzet(url, "audit", "verify").returncode == 1


def test_deleting_the_newest_rows_is_detected_by_the_signed_anchor(trail: tuple[str, sessionmaker[Session]]) -> None:
    url, factory = trail
    assert _kuzet(url, "audit", "verify", "--anchor").returncode == 0
    with factory() as s, s.begin():
        record(s, Actor(1, "officer", "officer"), "read", "trail", 99, purpose="later")
        s.execute(delete(AuditEntry).where(AuditEntry.id >= 9))
    with factory() as s:
        report = verify_trail(s, KEY)
    assert not report.ok
    assert any("newest rows were deleted" in p for p in report.problems)
    result = _kuzet(url, "audit", "verify")
    assert result.returncode == 1 and "TAMPERED" in result.stderr


def test_a_forged_anchor_is_detected(trail: tuple[str, sessionmaker[Session]]) -> None:
    _, factory = trail
    with factory() as s, s.begin():
        write_anchor(s, "someone-elses-key-000000")
    with factory() as s:
        report = verify_trail(s, KEY)
    assert not report.ok and "signature" in report.problems[0]


def test_every_location_read_is_recorded_with_who_role_and_purpose(client, world: World,  # type: ignore[no-untyped-def]
                                                                   factory: sessionmaker[Session]) -> None:
    pid = world.people["N-A"]
    r = client.get(f"/api/v1/people/{pid}/trail?start=2026-11-02T00:00:00Z&end=2026-11-03T00:00:00Z"
                   "&purpose=curfew+breach+review", headers=world.auth("officer_n1"))
    assert r.status_code == 200 and len(r.json()) == 30
    assert all(f["accuracy_m"] is not None for f in r.json())
    with factory() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.object_type == "trail")
                          .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None
    assert (entry.username, entry.role, entry.subject_person_id, entry.purpose) == (
        "officer_n1", "officer", pid, "curfew breach review")
    assert entry.detail["fixes"] == 30
    r = client.get("/api/v1/positions?purpose=night+watch", headers=world.auth("operator_n"))
    assert r.status_code == 200
    with factory() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.object_type == "position")
                          .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None and entry.username == "operator_n" and entry.purpose == "night watch"
    assert set(entry.detail["people"]) == {world.people["N-A"], world.people["N-B"]}


def test_a_trail_without_a_purpose_is_refused(client, world: World) -> None:  # type: ignore[no-untyped-def]
    pid = world.people["N-A"]
    r = client.get(f"/api/v1/people/{pid}/trail?start=2026-11-02T00:00:00Z&end=2026-11-03T00:00:00Z",
                   headers=world.auth("officer_n1"))
    assert r.status_code == 422


def test_the_auditor_reads_entries_and_that_read_is_itself_recorded(client, world: World) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/audit?person_id={world.people['N-A']}", headers=world.auth("auditor"))
    assert r.status_code == 200 and r.json()
    assert all(e["subject_person_id"] == world.people["N-A"] for e in r.json())
    r = client.get("/api/v1/audit?object_type=audit_trail", headers=world.auth("auditor"))
    assert r.json()[0]["username"] == "auditor"
    assert client.get("/api/v1/audit/verify", headers=world.auth("auditor")).json()["ok"] is True


def test_the_periodic_anchor_signs_only_a_head_that_moved(trail: tuple[str, sessionmaker[Session]]) -> None:
    _, factory = trail
    with factory() as s, s.begin():
        first = anchor_if_moved(s, KEY)
        assert first is not None and first.last_entry_id == 10
        assert anchor_if_moved(s, KEY) is None
        record(s, Actor(1, "officer", "officer"), "read", "trail", 11, purpose="later")
        second = anchor_if_moved(s, KEY)
        assert second is not None and second.last_entry_id == 11
