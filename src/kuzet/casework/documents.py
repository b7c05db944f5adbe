"""Generated documents, in Kazakh and Russian: the written warning, the submission to court and the individual
programme of social and legal assistance (PDF, reportlab, the bundled DejaVu Sans with Kazakh letters).

Each function gathers the record, writes a ``read`` entry to the audit trail (a document is a read of
personal data) and returns the PDF bytes. ``lang`` is ``"kk"``, ``"ru"`` or ``"kk-ru"`` (both, Kazakh first,
as official documents are issued). Documents never print a location or a trail.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.assets import FONT_BOLD, FONT_REGULAR
from kuzet.audit import Actor
from kuzet.audit.reads import record_read
from kuzet.store.models import CourtOrder, Person, Unit, User

from .errors import CaseworkError
from .models import CourtSubmission, Partner, ProgrammeAction, ProgrammeGoal, ProgrammeNeed, Violation, WrittenWarning

LANGS = ("kk", "ru")
_FONT, _FONT_BOLD = "KuzetDejaVu", "KuzetDejaVu-Bold"

T: dict[str, dict[str, str]] = {
    "service": {"kk": "Қазақстан Республикасы Ішкі істер министрлігі — Пробация қызметі",
                "ru": "Министерство внутренних дел Республики Казахстан — Служба пробации"},
    "warning_title": {"kk": "ЖАЗБАША ЕСКЕРТУ", "ru": "ПИСЬМЕННОЕ ПРЕДУПРЕЖДЕНИЕ"},
    "warning_sub": {"kk": "жазаны неғұрлым қатаң жазамен ауыстыру туралы",
                    "ru": "о замене наказания более строгим видом наказания"},
    "submission_title": {"kk": "СОТҚА ҰСЫНЫС", "ru": "ПРЕДСТАВЛЕНИЕ В СУД"},
    "programme_title": {"kk": "ӘЛЕУМЕТТІК-ҚҰҚЫҚТЫҚ КӨМЕК КӨРСЕТУДІҢ ЖЕКЕ БАҒДАРЛАМАСЫ",
                        "ru": "ИНДИВИДУАЛЬНАЯ ПРОГРАММА ОКАЗАНИЯ СОЦИАЛЬНО-ПРАВОВОЙ ПОМОЩИ"},
    "number": {"kk": "Нөмірі", "ru": "Номер"},
    "date": {"kk": "Күні", "ru": "Дата"},
    "person": {"kk": "Сотталған", "ru": "Осуждённый"},
    "code": {"kk": "Іс коды", "ru": "Код дела"},
    "birth": {"kk": "Туған күні", "ru": "Дата рождения"},
    "iin": {"kk": "ЖСН", "ru": "ИИН"},
    "category": {"kk": "Жаза түрі", "ru": "Вид наказания"},
    "court": {"kk": "Сот", "ru": "Суд"},
    "case": {"kk": "Іс нөмірі", "ru": "Номер дела"},
    "article": {"kk": "Бап", "ru": "Статья"},
    "period": {"kk": "Мерзімі", "ru": "Срок"},
    "version": {"kk": "Бұзушылық кезінде күшінде болған үкім нұсқасы",
                "ru": "Редакция приговора, действовавшая в момент нарушения"},
    "violation": {"kk": "Бұзушылық", "ru": "Нарушение"},
    "breach_at": {"kk": "Бұзушылық уақыты", "ru": "Время нарушения"},
    "identified_at": {"kk": "Анықталған уақыты", "ru": "Время выявления"},
    "conditions": {"kk": "Сот белгілеген шектеулер", "ru": "Ограничения, установленные судом"},
    "obligations": {"kk": "Сот жүктеген міндеттер", "ru": "Обязанности, возложенные судом"},
    "warning_text": {
        "kk": "Сіз жазаны өтеу тәртібі мен шарттарын немесе сот жүктеген міндеттерді қайта бұзған жағдайда "
              "пробация қызметі сотқа жазаны неғұрлым қатаң жазамен ауыстыру (шартты соттауды немесе шартты "
              "түрде мерзімінен бұрын босатуды жою) туралы ұсыныс енгізетіні туралы ескертілесіз.",
        "ru": "Вы предупреждаетесь о том, что при повторном нарушении порядка и условий отбывания наказания или "
              "обязанностей, возложенных судом, служба пробации внесёт в суд представление о замене наказания "
              "более строгим (об отмене условного осуждения или условно-досрочного освобождения)."},
    "acknowledged": {"kk": "Ескертумен таныстым", "ru": "С предупреждением ознакомлен(а)"},
    "not_acknowledged": {"kk": "Сотталған ескертуге қол қоюдан бас тартты немесе келмеді",
                         "ru": "Осуждённый от подписи отказался или не явился"},
    "officer": {"kk": "Пробация қызметінің қызметкері", "ru": "Сотрудник службы пробации"},
    "signature": {"kk": "Қолы", "ru": "Подпись"},
    "to_court": {"kk": "Кімге", "ru": "Куда"},
    "request": {"kk": "Пробация қызметі сұрайды", "ru": "Служба пробации просит"},
    "grounds": {"kk": "Негіздер", "ru": "Основания"},
    "warnings": {"kk": "Бұрын берілген жазбаша ескертулер", "ru": "Ранее вынесенные письменные предупреждения"},
    "none": {"kk": "жоқ", "ru": "нет"},
    "needs": {"kk": "Бағаланған қажеттіліктер", "ru": "Оценённые потребности"},
    "goals": {"kk": "Мақсаттар мен іс-шаралар", "ru": "Цели и мероприятия"},
    "area": {"kk": "Бағыт", "ru": "Направление"},
    "goal": {"kk": "Мақсат", "ru": "Цель"},
    "action": {"kk": "Іс-шара", "ru": "Мероприятие"},
    "partner": {"kk": "Жауапты серіктес", "ru": "Ответственный партнёр"},
    "due": {"kk": "Мерзімі", "ru": "Срок"},
    "status": {"kk": "Күйі", "ru": "Состояние"},
    "outcome": {"kk": "Нәтиже", "ru": "Результат"},
    "person_sign": {"kk": "Бағдарламамен таныстым", "ru": "С программой ознакомлен(а)"},
    "unit": {"kk": "Бөлімше", "ru": "Подразделение"},
    "open_end": {"kk": "белгіленбеген", "ru": "не установлен"},
}

CATEGORY = {
    "restricted_freedom": {"kk": "бас бостандығын шектеу", "ru": "ограничение свободы"},
    "suspended_sentence": {"kk": "шартты түрде соттау", "ru": "условное осуждение"},
    "parole": {"kk": "шартты түрде мерзімінен бұрын босату", "ru": "условно-досрочное освобождение"},
}
REQUEST = {
    "replace_sentence": {"kk": "жазаның өтелмеген бөлігін бас бостандығынан айырумен ауыстыруды",
                         "ru": "заменить неотбытую часть наказания лишением свободы"},
    "extend_probation": {"kk": "сынақ мерзімін ұзартуды", "ru": "продлить испытательный срок"},
    "add_obligations": {"kk": "қосымша міндеттер жүктеуді", "ru": "возложить дополнительные обязанности"},
    "revoke_parole": {"kk": "шартты түрде мерзімінен бұрын босатуды жоюды",
                      "ru": "отменить условно-досрочное освобождение"},
}
AREA = {
    "education": {"kk": "білім алу", "ru": "образование"},
    "employment": {"kk": "жұмысқа орналасу", "ru": "трудоустройство"},
    "medical": {"kk": "медициналық көмек", "ru": "медицинская помощь"},
    "housing": {"kk": "тұрғын үй", "ru": "жильё"},
    "documents": {"kk": "құжаттарды қалпына келтіру", "ru": "восстановление документов"},
    "psychological": {"kk": "психологиялық көмек", "ru": "психологическая помощь"},
    "legal": {"kk": "заң көмегі", "ru": "юридическая помощь"},
}
VIOLATION = {
    "curfew_absence": {"kk": "белгіленген уақытта үйде болмау", "ru": "отсутствие дома в установленное время"},
    "exclusion_entry": {"kk": "тыйым салынған аймаққа кіру", "ru": "посещение запрещённой зоны"},
    "strap_tamper": {"kk": "білезікті бүлдіру", "ru": "повреждение браслета"},
    "failed_to_attend": {"kk": "пробация қызметіне келмеу", "ru": "неявка в службу пробации"},
    "unacceptable_absence": {"kk": "дәлелсіз себеппен келмеу", "ru": "неявка без уважительной причины"},
    "attended_failed_to_comply": {"kk": "келді, бірақ талаптарды орындамады",
                                  "ru": "явился, но не выполнил требования"},
}
STATUS = {"open": {"kk": "орындалуда", "ru": "в работе"}, "achieved": {"kk": "орындалды", "ru": "достигнута"},
          "not_achieved": {"kk": "орындалмады", "ru": "не достигнута"}, "dropped": {"kk": "тоқтатылды", "ru": "снята"}}


def _fonts() -> None:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT, str(FONT_REGULAR)))
        pdfmetrics.registerFont(TTFont(_FONT_BOLD, str(FONT_BOLD)))


def _langs(lang: str) -> Sequence[str]:
    if lang == "kk-ru":
        return LANGS
    if lang in LANGS:
        return (lang,)
    raise CaseworkError(f"documents are in kk, ru or kk-ru, not {lang!r}", field="lang")


class _Doc:
    """Paragraph helpers over reportlab's styles in DejaVu Sans."""

    def __init__(self) -> None:
        _fonts()
        self.body = ParagraphStyle("body", fontName=_FONT, fontSize=10, leading=14)
        self.small = ParagraphStyle("small", fontName=_FONT, fontSize=8, leading=11)
        self.title = ParagraphStyle("title", fontName=_FONT_BOLD, fontSize=14, leading=18, alignment=1,
                                    spaceAfter=4)
        self.subtitle = ParagraphStyle("subtitle", fontName=_FONT, fontSize=10, leading=13, alignment=1)
        self.heading = ParagraphStyle("heading", fontName=_FONT_BOLD, fontSize=11, leading=15, spaceBefore=8)

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(escape(text), style or self.body)

    def table(self, rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None) -> Table:
        data = [[Paragraph(escape(str(c)), self.small) for c in row] for row in rows]
        table = Table(data, colWidths=list(widths) if widths else None, hAlign="LEFT")
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, "#888888"),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("BACKGROUND", (0, 0), (-1, 0), "#eeeeee")]))
        return table


def _render(story: list[Flowable], title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=title, author="Kuzet", subject=title)
    doc.build(story)
    return buffer.getvalue()


def _local(at: datetime | None, tz: str) -> str:
    return "—" if at is None else at.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


def _day(d: date | None) -> str:
    return "—" if d is None else d.strftime("%d.%m.%Y")


def _person_rows(person: Person, order: CourtOrder | None, lang: str) -> list[list[str]]:
    rows = [[T["person"][lang], person.display_name], [T["code"][lang], person.code],
            [T["birth"][lang], _day(person.birth_date)], [T["iin"][lang], person.iin or "—"]]
    if order is not None:
        rows += [[T["category"][lang], CATEGORY.get(order.category, {}).get(lang, order.category)],
                 [T["court"][lang], order.court or "—"], [T["case"][lang], order.case_number or "—"],
                 [T["article"][lang], order.article or "—"],
                 [T["period"][lang], f"{_day(order.start_date)} — "
                                     f"{_day(order.end_date) if order.end_date else T['open_end'][lang]}"]]
    return rows


def _officer(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return (user.full_name or user.username) if user is not None else "—"


def _unit(session: Session, person: Person) -> str:
    unit = session.get(Unit, person.unit_id)
    return unit.name if unit is not None else ""


def written_warning_pdf(session: Session, actor: Actor, warning_id: int, *, lang: str = "kk-ru") -> bytes:
    langs = _langs(lang)
    warning = session.get(WrittenWarning, warning_id)
    if warning is None:
        raise CaseworkError(f"unknown written warning {warning_id}", field="warning_id")
    violation = session.get(Violation, warning.violation_id)
    person = session.get(Person, warning.person_id)
    assert violation is not None and person is not None
    order = session.get(CourtOrder, violation.order_id) if violation.order_id is not None else None
    record_read(session, actor, "document", f"written_warning:{warning.id}", person_id=person.id,
                purpose="written warning document", detail={"lang": lang})
    d = _Doc()
    story: list[Flowable] = []
    for i, lg in enumerate(langs):
        if i:
            story.append(PageBreak())
        story += [d.p(T["service"][lg], d.small), d.p(_unit(session, person), d.small), Spacer(1, 6 * mm),
                  d.p(T["warning_title"][lg], d.title), d.p(T["warning_sub"][lg], d.subtitle), Spacer(1, 4 * mm),
                  d.p(f"{T['number'][lg]}: {warning.number}    {T['date'][lg]}: "
                      f"{_local(warning.issued_at, person.timezone)}"),
                  Spacer(1, 3 * mm), d.table(_person_rows(person, order, lg), [60 * mm, 110 * mm]),
                  d.p(T["violation"][lg], d.heading),
                  d.table([[T["violation"][lg], VIOLATION.get(violation.kind, {}).get(lg, violation.kind)],
                           [T["breach_at"][lg], _local(violation.breach_at, person.timezone)],
                           [T["identified_at"][lg], _local(violation.identified_at, person.timezone)],
                           [T["version"][lg], f"v{order.version} ({_local(order.effective_from, person.timezone)})"
                            if order else "—"]], [60 * mm, 110 * mm])]
        if violation.description:
            story.append(d.p(violation.description))
        if order is not None and (order.conditions or order.obligations):
            story.append(d.p(T["conditions"][lg] + ": " + ("; ".join(map(str, order.conditions)) or "—")))
            story.append(d.p(T["obligations"][lg] + ": " + ("; ".join(map(str, order.obligations)) or "—")))
        story += [Spacer(1, 4 * mm), d.p(T["warning_text"][lg]), Spacer(1, 8 * mm),
                  d.p(f"{T['officer'][lg]}: {_officer(session, warning.issued_by)}    "
                      f"{T['signature'][lg]}: ____________"),
                  Spacer(1, 4 * mm),
                  d.p(f"{T['acknowledged'][lg]}: {person.display_name}    {T['signature'][lg]}: ____________    "
                      f"{_local(warning.acknowledged_at, person.timezone)}" if warning.acknowledged_at
                      else T["not_acknowledged"][lg])]
    return _render(story, f"{T['warning_title']['ru']} {warning.number}")


def court_submission_pdf(session: Session, actor: Actor, submission_id: int, *, lang: str = "kk-ru") -> bytes:
    langs = _langs(lang)
    submission = session.get(CourtSubmission, submission_id)
    if submission is None:
        raise CaseworkError(f"unknown submission {submission_id}", field="submission_id")
    person = session.get(Person, submission.person_id)
    assert person is not None
    violation = session.get(Violation, submission.violation_id) if submission.violation_id else None
    order = (session.get(CourtOrder, violation.order_id) if violation is not None and violation.order_id else None)
    warnings = [w for w in (session.get(WrittenWarning, wid) for wid in submission.warnings) if w is not None]
    record_read(session, actor, "document", f"court_submission:{submission.id}", person_id=person.id,
                purpose="court submission document", detail={"lang": lang})
    d = _Doc()
    story: list[Flowable] = []
    for i, lg in enumerate(langs):
        if i:
            story.append(PageBreak())
        story += [d.p(T["service"][lg], d.small), d.p(_unit(session, person), d.small), Spacer(1, 4 * mm),
                  d.p(f"{T['to_court'][lg]}: {submission.court or '—'}"), Spacer(1, 4 * mm),
                  d.p(T["submission_title"][lg], d.title),
                  d.p(f"{T['number'][lg]}: {submission.number}    {T['date'][lg]}: "
                      f"{_local(submission.submitted_at or submission.created_at, person.timezone)}", d.subtitle),
                  Spacer(1, 4 * mm), d.table(_person_rows(person, order, lg), [60 * mm, 110 * mm])]
        if violation is not None:
            story += [d.p(T["violation"][lg], d.heading),
                      d.table([[T["violation"][lg], VIOLATION.get(violation.kind, {}).get(lg, violation.kind)],
                               [T["breach_at"][lg], _local(violation.breach_at, person.timezone)],
                               [T["version"][lg], f"v{order.version}" if order else "—"]], [60 * mm, 110 * mm])]
        story += [d.p(T["grounds"][lg], d.heading), d.p(submission.grounds or "—"),
                  d.p(T["warnings"][lg], d.heading),
                  d.p("; ".join(f"{w.number} ({_local(w.issued_at, person.timezone)})" for w in warnings)
                      or T["none"][lg]),
                  Spacer(1, 4 * mm),
                  d.p(f"{T['request'][lg]}: {REQUEST.get(submission.kind, {}).get(lg, submission.kind)}."),
                  Spacer(1, 10 * mm),
                  d.p(f"{T['officer'][lg]}: {_officer(session, submission.created_by)}    "
                      f"{T['signature'][lg]}: ____________")]
    return _render(story, f"{T['submission_title']['ru']} {submission.number}")


def individual_programme_pdf(session: Session, actor: Actor, person_id: int, *, lang: str = "kk-ru") -> bytes:
    langs = _langs(lang)
    person = session.get(Person, person_id)
    if person is None:
        raise CaseworkError(f"unknown person {person_id}", field="person_id")
    needs = session.execute(select(ProgrammeNeed).where(ProgrammeNeed.person_id == person.id)
                            .order_by(ProgrammeNeed.assessed_on, ProgrammeNeed.id)).scalars().all()
    goals = session.execute(select(ProgrammeGoal).where(ProgrammeGoal.person_id == person.id)
                            .order_by(ProgrammeGoal.id)).scalars().all()
    actions = session.execute(select(ProgrammeAction).where(ProgrammeAction.goal_id.in_([g.id for g in goals]))
                              .order_by(ProgrammeAction.id)).scalars().all() if goals else []
    partners = {p.id: p.name for p in session.execute(select(Partner)).scalars()}
    order = session.execute(select(CourtOrder).where(CourtOrder.person_id == person.id)
                            .order_by(CourtOrder.version.desc()).limit(1)).scalar_one_or_none()
    record_read(session, actor, "document", f"individual_programme:{person.id}", person_id=person.id,
                purpose="individual programme document", detail={"lang": lang})
    d = _Doc()
    story: list[Flowable] = []
    for i, lg in enumerate(langs):
        if i:
            story.append(PageBreak())
        story += [d.p(T["service"][lg], d.small), d.p(_unit(session, person), d.small), Spacer(1, 4 * mm),
                  d.p(T["programme_title"][lg], d.title), Spacer(1, 4 * mm),
                  d.table(_person_rows(person, order, lg), [60 * mm, 110 * mm]), d.p(T["needs"][lg], d.heading)]
        story.append(d.table([[T["area"][lg], T["date"][lg], T["needs"][lg]]] + [
            [AREA.get(n.area, {}).get(lg, n.area), _day(n.assessed_on), n.assessment] for n in needs],
            [40 * mm, 25 * mm, 105 * mm]) if needs else d.p(T["none"][lg]))
        story.append(d.p(T["goals"][lg], d.heading))
        rows = [[T["area"][lg], T["goal"][lg] + " / " + T["action"][lg], T["partner"][lg], T["due"][lg],
                 T["status"][lg] + " / " + T["outcome"][lg]]]
        for g in goals:
            rows.append([AREA.get(g.area, {}).get(lg, g.area), g.text, partners.get(g.partner_id or 0, "—"),
                         _day(g.due_on), STATUS.get(g.status, {}).get(lg, g.status) + (f": {g.outcome}"
                                                                                        if g.outcome else "")])
            for a in actions:
                if a.goal_id == g.id:
                    rows.append(["", f"— {a.text}", partners.get(a.partner_id or 0, "—"), _day(a.due_on),
                                 f"{_day(a.done_on)} {a.outcome}" if a.done_on else ""])
        story.append(d.table(rows, [28 * mm, 62 * mm, 32 * mm, 20 * mm, 28 * mm]) if goals else d.p(T["none"][lg]))
        story += [Spacer(1, 10 * mm),
                  d.p(f"{T['officer'][lg]}: {_officer(session, person.officer_id)}    "
                      f"{T['signature'][lg]}: ____________"),
                  Spacer(1, 4 * mm),
                  d.p(f"{T['person_sign'][lg]}: {person.display_name}    {T['signature'][lg]}: ____________")]
    return _render(story, f"{T['programme_title']['ru']} {person.code}")
