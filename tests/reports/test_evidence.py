"""Court evidence packs: valid PDFs in Kazakh and Russian whose hashes catch any change to the store."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import SYSTEM
from kuzet.exchange import read_bundle
from kuzet.exchange.store_io import import_bundle, save_alert
from kuzet.reports.evidence import build_evidence_pack, read_manifest, verify_pack
from kuzet.store.models import AlertRecord, AuditEntry, DeviceReportRecord, Person
from tests.conftest import EXAMPLES

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def curfew_alert(sessions: sessionmaker[Session]) -> int:
    bundle = read_bundle(EXAMPLES / "clean", with_truth=True)
    episode = next(e for e in bundle.truth if e.type.value == "curfew_absence" and not e.extra.get("ambiguous"))
    # Only that person's reports around the episode: the pack needs no more, and the test stays quick.
    subject = next(s for s in bundle.plan.subjects if s.id == episode.subject)
    devices = {d.id for d in subject.devices}
    window = (episode.start - timedelta(hours=2), (episode.end or episode.start) + timedelta(hours=2))
    bundle.reports = [(n, r) for n, r in bundle.reports if r.device in devices and window[0] <= r.time <= window[1]]
    with sessions() as session, session.begin():
        import_bundle(session, bundle)
        person = session.execute(select(Person).where(Person.code == episode.subject)).scalar_one()
        return save_alert(session, episode, person.id, person.region_id).id


@pytest.mark.parametrize("language,needle", [("ru", "Доказательный пакет"), ("kk", "дәлелдемелер пакеті")])
def test_pack_is_a_valid_pdf_in_the_court_language(sessions: sessionmaker[Session], curfew_alert: int,
                                                    language: str, needle: str) -> None:
    with sessions() as session, session.begin():
        pdf = build_evidence_pack(session, SYSTEM, curfew_alert, language=language, purpose="court", now=NOW)
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    assert needle in text
    assert "home" in text  # the zone in force
    man = read_manifest(pdf)
    assert sum(1 for r in man["records"] if r["table"] == "device_reports") > 10
    with sessions() as session:
        audited = session.execute(select(AuditEntry).where(AuditEntry.action == "evidence_pack")).scalars().all()
    assert len(audited) == 1 and audited[0].object_id == str(curfew_alert)


def test_changing_one_stored_fix_makes_verification_fail(sessions: sessionmaker[Session], curfew_alert: int) -> None:
    with sessions() as session, session.begin():
        pdf = build_evidence_pack(session, SYSTEM, curfew_alert, purpose="court", now=NOW)
    with sessions() as session:
        result = verify_pack(session, pdf)
    assert result.ok and result.checked > 10
    fix_id = next(r["id"] for r in read_manifest(pdf)["records"] if r["table"] == "device_reports")
    with sessions() as session, session.begin():
        session.execute(update(DeviceReportRecord).where(DeviceReportRecord.id == fix_id)
                        .values(lat=DeviceReportRecord.lat + 0.0001))
    with sessions() as session:
        result = verify_pack(session, pdf)
    assert not result.ok
    assert result.problems == [f"device_reports#{fix_id}: changed since the pack was made"]


def test_changing_the_alert_or_deleting_it_is_caught(sessions: sessionmaker[Session], curfew_alert: int) -> None:
    with sessions() as session, session.begin():
        pdf = build_evidence_pack(session, SYSTEM, curfew_alert, purpose="court", now=NOW)
    with sessions() as session, session.begin():
        session.execute(update(AlertRecord).where(AlertRecord.id == curfew_alert).values(severity="low"))
    with sessions() as session:
        assert verify_pack(session, pdf).problems == [f"alerts#{curfew_alert}: changed since the pack was made"]


def test_a_pdf_without_a_manifest_or_a_broken_file_is_not_a_pack() -> None:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(100, 100, "not evidence")
    canvas.save()
    with pytest.raises(ValueError, match="no embedded manifest"):
        read_manifest(buf.getvalue())
    with pytest.raises(ValueError, match="not a readable PDF"):
        read_manifest(b"%PDF-1.4 truncated")


def test_a_zone_edited_after_the_alert_is_shown_as_it_was_and_the_edit_does_not_break_the_pack(
        sessions: sessionmaker[Session], curfew_alert: int) -> None:
    from kuzet.auth.principal import Principal
    from kuzet.domain.enums import Role
    from kuzet.store.models import ZoneRecord
    from kuzet.web.services.people import ZoneInput, update_zone

    admin = Principal(1, "a.admin", Role.ADMINISTRATOR)
    with sessions() as session, session.begin():
        alert = session.get(AlertRecord, curfew_alert)
        assert alert is not None
        zone = session.execute(select(ZoneRecord).where(ZoneRecord.person_id == alert.person_id,
                                                        ZoneRecord.code == alert.target)).scalar_one()
        was = (zone.id, zone.grace_s, dict(zone.shape))
        pdf_before = build_evidence_pack(session, SYSTEM, curfew_alert, purpose="court", now=NOW)
    # A month later the officer moves the home zone and lengthens its grace.
    with sessions() as session, session.begin():
        zone = session.get(ZoneRecord, was[0])
        assert zone is not None
        moved = {**zone.shape, "coordinates": [zone.shape["coordinates"][0] + 0.05, zone.shape["coordinates"][1]]}
        update_zone(session, admin, zone.person_id, zone.id,
                    ZoneInput(zone.code, zone.kind, moved, zone.schedule, 1800.0, zone.name))
    with sessions() as session, session.begin():
        pdf_after = build_evidence_pack(session, SYSTEM, curfew_alert, purpose="court", now=NOW)
        assert verify_pack(session, pdf_after).ok
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_after)).pages)
    assert f"grace {was[1]:.0f} s" in text and "grace 1800 s" not in text
    assert "журнала аудита" in text
    tables = {r["table"] for r in read_manifest(pdf_after)["records"]}
    assert "audit_trail" in tables and "zones" not in tables
    # The pack made before the edit cited the zone row itself, which has changed since: its check says so.
    with sessions() as session:
        assert verify_pack(session, pdf_before).problems == [f"zones#{was[0]}: changed since the pack was made"]
