"""Data-subject access: the export round-trips through the exchange format and the PDF reads back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import Actor
from kuzet.exchange import read_bundle
from kuzet.privacy.fields import set_protected_address
from kuzet.privacy.retention import place_hold
from kuzet.privacy.subject_access import export_subject
from kuzet.store.models import AlertRecord, AuditEntry, Person, ProtectedPersonRecord

from .factories import east_of_scene, fix, organisation, store_and_index, wearer
from .test_matching import FITTED, START

OFFICER = Actor(3, "o.officer", "officer")
KEY = "test-field-key-0123456789abcdef"


def test_export_holds_everything_about_the_person_and_round_trips(db_url: str, sessions: sessionmaker[Session],
                                                                  tmp_path: Path) -> None:
    with sessions.begin() as session:
        unit = organisation(session)
        w = wearer(session, unit, "S-0042", FITTED, address="Шымкент, Тәуке хан 5", iin="900101300123")
        other = wearer(session, unit, "S-0043", FITTED)
        store_and_index(session, [fix(w, START + timedelta(minutes=i), *east_of_scene(20.0 * i)) for i in range(25)]
                        + [fix(other, START, *east_of_scene(5.0))])
        session.add(AlertRecord(person_id=w.person.id, subject_code="S-0042", type="strap_tamper", target_key="",
                                start=START, end=START + timedelta(minutes=5), raised_at=START,
                                severity="critical", status="closed"))
        victim = ProtectedPersonRecord(person_id=w.person.id, code="V-1", device_serial="PP-1", distance_m=500.0,
                                       name="Жертва Аты", phone="+77010000000")
        session.add(victim)
        session.flush()
        set_protected_address(session, OFFICER, victim, "Victim street 1", key=KEY)
        place_hold(session, Actor(1, "a.admin", "administrator"), case_reference="2-42/2026", reason="appeal",
                   person_id=w.person.id)
        result = export_subject(session, OFFICER, "S-0042", tmp_path / "sar", purpose="request of 2026-05-10")

    bundle = read_bundle(result.bundle)
    assert [s.id for s in bundle.plan.subjects] == ["S-0042"]
    assert len(bundle.reports) == 25 and {r.device for _, r in bundle.reports} == {"D-S-0042"}
    assert [(a.subject, a.type.value) for a in bundle.alerts] == [("S-0042", "strap_tamper")]

    records = orjson.loads(result.records.read_bytes())
    assert records["person"]["iin"] == "900101300123"
    assert records["court_holds"][0]["case_reference"] == "2-42/2026"
    assert records["positions_summary"]["with_person_id"] == 25
    actions = {(e["action"], e["object_type"]) for e in records["audit"]}
    assert ("update", "protected_person_address") in actions and ("create", "court_hold") in actions
    # No third party's personal data: the victim's name, phone and address are not in any exported file.
    exported = b"".join(p.read_bytes() for p in result.directory.rglob("*") if p.is_file())
    for secret in ("Жертва", "+77010000000", "Victim street", "S-0043"):
        assert secret.encode() not in exported, secret

    text = " ".join("".join(page.extract_text() for page in PdfReader(result.pdf).pages).split())
    assert "S-0042" in text
    assert "Выписка по запросу субъекта персональных данных" in text
    assert "Дербес деректер субъектісінің сұрауы" in text
    assert "900101300123" in text

    with sessions() as session:
        person = session.execute(select(Person).where(Person.code == "S-0042")).scalar_one()
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "subject_access_export")
                                ).scalar_one()
        assert (entry.subject_person_id, entry.purpose) == (person.id, "request of 2026-05-10")
