"""Generated documents are valid PDFs whose text reads in Kazakh and in Russian."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.casework import CaseworkError, file_submission, issue_written_warning, record_violation, submit_to_court
from kuzet.casework.documents import court_submission_pdf, individual_programme_pdf, written_warning_pdf
from kuzet.casework.programme import add_action, add_goal, assess_need
from kuzet.store.models import AuditEntry

from .factories import at, ngo, office, register


def _text(pdf: bytes) -> tuple[int, str]:
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf), strict=True)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def case(sqlite_sessions: sessionmaker[Session]) -> tuple[sessionmaker[Session], dict[str, int]]:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0400", category="restricted_freedom", effective_from=at(2026, 3, 1, 19))
        actor = where.officer.actor
        first = record_violation(s, actor, person.id, kind="curfew_absence", breach_at=at(2026, 4, 3, 18),
                                 description="Absent from home 23:10-01:40")
        warning = issue_written_warning(s, actor, first.id, at=at(2026, 4, 4, 5))
        second = record_violation(s, actor, person.id, kind="exclusion_entry", breach_at=at(2026, 5, 9, 20))
        submission = submit_to_court(s, actor, second.id, at=at(2026, 5, 11, 6), grounds="Repeated breaches")
        file_submission(s, actor, submission.id, at=at(2026, 5, 11, 9))
        charity = ngo(s, where)
        need = assess_need(s, actor, person.id, "employment", assessment="unemployed since 2024",
                           assessed_on=date(2026, 3, 5))
        goal = add_goal(s, actor, person.id, "employment", "Жұмысқа орналасу / find a job", partner_id=charity.id,
                        need_id=need.id, due_on=date(2026, 6, 30))
        add_action(s, actor, goal.id, "CV workshop", due_on=date(2026, 4, 15))
        ids = {"warning": warning.id, "submission": submission.id, "person": person.id,
               "officer": where.officer.user_id or 0}
    return sqlite_sessions, ids


def test_the_written_warning_reads_in_kazakh_and_russian(case: tuple[sessionmaker[Session], dict[str, int]]) -> None:
    sessions, ids = case
    with sessions() as s, s.begin():
        officer = s.execute(select(AuditEntry.username).where(AuditEntry.user_id == ids["officer"])).scalars().first()
        from kuzet.audit import Actor

        actor = Actor(ids["officer"], officer or "officer", "officer")
        pages, text = _text(written_warning_pdf(s, actor, ids["warning"]))
        flat = _flat(text)
        assert pages == 2
        assert "ЖАЗБАША ЕСКЕРТУ" in flat and "ПИСЬМЕННОЕ ПРЕДУПРЕЖДЕНИЕ" in flat
        assert "Нұрланов Ерлан Серікұлы" in flat  # Kazakh letters survive the font and the text layer
        assert "бас бостандығын шектеу" in flat and "ограничение свободы" in flat
        assert "белгіленген уақытта үйде болмау" in flat and "отсутствие дома в установленное время" in flat
        assert "04.04.2026 10:00" in flat  # local time in Almaty
        assert "Aigerim Sadykova" in flat and "WW-2026-" in flat
        kk_pages, kk = _text(written_warning_pdf(s, actor, ids["warning"], lang="kk"))
        ru_pages, ru = _text(written_warning_pdf(s, actor, ids["warning"], lang="ru"))
        assert (kk_pages, ru_pages) == (1, 1)
        assert "ескертілесіз" in _flat(kk) and "предупреждаетесь" not in _flat(kk)
        assert "предупреждаетесь" in _flat(ru) and "ескертілесіз" not in _flat(ru)
        with pytest.raises(CaseworkError, match="kk, ru or kk-ru"):
            written_warning_pdf(s, actor, ids["warning"], lang="en")
        reads = s.execute(select(AuditEntry.object_id).where(AuditEntry.object_type == "document")).scalars().all()
        assert reads.count(f"written_warning:{ids['warning']}") == 3


def test_the_submission_to_court_and_the_individual_programme_read_in_both_languages(
        case: tuple[sessionmaker[Session], dict[str, int]]) -> None:
    from kuzet.audit import Actor

    sessions, ids = case
    actor = Actor(ids["officer"], "officer_ala", "officer")
    with sessions() as s, s.begin():
        _, text = _text(court_submission_pdf(s, actor, ids["submission"]))
        flat = _flat(text)
        assert "СОТҚА ҰСЫНЫС" in flat and "ПРЕДСТАВЛЕНИЕ В СУД" in flat
        assert "бас бостандығынан айырумен ауыстыруды" in flat and "заменить неотбытую часть наказания" in flat
        assert "WW-2026-" in flat and "Repeated breaches" in flat
        assert "Алматы қаласының Алмалы аудандық соты" in flat
        _, text = _text(individual_programme_pdf(s, actor, ids["person"]))
        flat = _flat(text)
        assert "ӘЛЕУМЕТТІК-ҚҰҚЫҚТЫҚ КӨМЕК КӨРСЕТУДІҢ ЖЕКЕ БАҒДАРЛАМАСЫ" in flat
        assert "ИНДИВИДУАЛЬНАЯ ПРОГРАММА ОКАЗАНИЯ СОЦИАЛЬНО-ПРАВОВОЙ ПОМОЩИ" in flat
        assert "жұмысқа орналасу" in flat and "трудоустройство" in flat
        assert "«Жол» қоғамдық бірлестігі" in flat and "CV workshop" in flat
