"""Data-subject access: everything held about one person, as an exchange bundle, a JSON file and a PDF.

The export directory holds ``bundle/`` (the person's plan, device reports and alerts in the open format
``emx/1``, readable by :func:`kuzet.exchange.read_bundle`), ``records.json`` (the person's other records:
identity, order versions, zones, device assignments, alert actions, court holds, fitting records, the rows
of every other area's tables that point at the person or their alerts, and the
audit entries about them, i.e. who looked at their data and why), ``other-devices-reports.ndjson`` (reports
of devices no longer fitted, which the bundle's plan does not name) and ``subject-access.pdf`` (the same, for
reading, in Kazakh and Russian).

It never includes a third party's personal data: the protected persons' names, phones and addresses are
left out (only their codes and distances remain), and the export itself is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import func, inspect, select, true
from sqlalchemy.orm import Session

from kuzet.assets import FONT_BOLD, FONT_REGULAR
from kuzet.audit import Actor, record
from kuzet.exchange import write_bundle
from kuzet.exchange.bundle import write_ndjson
from kuzet.exchange.store_io import export_bundle, record_to_report
from kuzet.store.models import (
    AlertAction,
    AlertRecord,
    Assignment,
    AuditEntry,
    CourtOrder,
    Device,
    DeviceReportRecord,
    Person,
    ProtectedPersonRecord,
    ZoneRecord,
)

from .models import CourtHold

#: Columns of third parties (protected persons) never exported to the subject.
THIRD_PARTY_COLUMNS = frozenset({"name", "phone", "address_enc"})
#: Rows of the positions table printed in the PDF; the complete trail is in the bundle.
PDF_POSITIONS = 300


class SubjectNotFound(LookupError):
    """No person with this code."""


@dataclass(frozen=True, slots=True)
class SubjectAccessExport:
    directory: Path
    bundle: Path
    records: Path
    pdf: Path
    reports: int
    alerts: int


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def row_json(row: Any, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every column of a mapped row, JSON-ready (ISO times, hex bytes)."""
    return {c.key: _value(getattr(row, c.key)) for c in inspect(type(row)).column_attrs if c.key not in skip}


def subject_records(session: Session, person: Person) -> dict[str, Any]:
    """The person's records other than the bundle's content, as JSON-ready lists."""
    pid = person.id
    alerts = list(session.execute(select(AlertRecord).where(AlertRecord.person_id == pid)
                                  .order_by(AlertRecord.start)).scalars())
    alert_ids = [a.id for a in alerts]
    out: dict[str, Any] = {
        "person": row_json(person),
        "court_orders": [row_json(o) for o in session.execute(
            select(CourtOrder).where(CourtOrder.person_id == pid).order_by(CourtOrder.version)).scalars()],
        "zones": [row_json(z) for z in session.execute(
            select(ZoneRecord).where(ZoneRecord.person_id == pid).order_by(ZoneRecord.id)).scalars()],
        "protected_persons": [row_json(p, skip=THIRD_PARTY_COLUMNS) for p in session.execute(
            select(ProtectedPersonRecord).where(ProtectedPersonRecord.person_id == pid)).scalars()],
        "assignments": [{**row_json(a), "device_serial": serial} for a, serial in session.execute(
            select(Assignment, Device.serial).join(Device, Device.id == Assignment.device_id)
            .where(Assignment.person_id == pid).order_by(Assignment.fitted_at)).all()],
        "alerts": [row_json(a) for a in alerts],
        "alert_actions": [row_json(a) for a in session.execute(
            select(AlertAction).where(AlertAction.alert_id.in_(alert_ids)).order_by(AlertAction.id)).scalars()]
        if alert_ids else [],
        "court_holds": [row_json(h) for h in session.execute(
            select(CourtHold).where(CourtHold.person_id == pid).order_by(CourtHold.id)).scalars()],
        "audit": [row_json(e, skip=frozenset({"prev_hash"})) for e in session.execute(
            select(AuditEntry).where(AuditEntry.subject_person_id == pid).order_by(AuditEntry.id)).scalars()],
    }
    out["other_tables"] = other_tables(session, pid, alert_ids)
    try:
        from kuzet.devices.models import FittingRecord

        out["fitting_records"] = [row_json(f) for f in session.execute(
            select(FittingRecord).where(FittingRecord.person_id == pid).order_by(FittingRecord.id)).scalars()]
    except ImportError:  # pragma: no cover - the device area is part of every installation
        out["fitting_records"] = []
    return out


#: Tables exported by their own section above (or in the bundle), not again in ``other_tables``.
_COVERED = frozenset({"people", "court_orders", "zones", "protected_persons", "assignments", "alerts",
                      "alert_actions", "device_reports", "audit_trail", "device_fitting_records"})


def other_tables(session: Session, person_id: int, alert_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every other area's tables that point at the person (or at one of their alerts)."""
    from kuzet.store import registry

    out: dict[str, list[dict[str, Any]]] = {}
    for table in registry.metadata.sorted_tables:
        if table.name in _COVERED or table.name.startswith("privacy_"):
            continue
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if target == "people":
                where = fk.parent == person_id
            elif target == "alerts" and alert_ids:
                where = fk.parent.in_(alert_ids)
            else:
                continue
            rows = [{k: _value(v) for k, v in r.items()}
                    for r in session.execute(table.select().where(where)).mappings()]
            if rows:
                out.setdefault(table.name, []).extend(rows)
    return out


def export_subject(session: Session, actor: Actor, person_code: str, directory: Path | str, *,
                   purpose: str = "data-subject access request", now: datetime | None = None
                   ) -> SubjectAccessExport:
    """Write the person's bundle, records and PDF into ``directory``; audit the export."""
    person = session.execute(select(Person).where(Person.code == person_code)).scalar_one_or_none()
    if person is None:
        raise SubjectNotFound(f"no person with code {person_code!r}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bundle = export_bundle(session, person_codes=[person_code])
    write_bundle(directory / "bundle", bundle)
    records = subject_records(session, person)
    first, last, fixes = session.execute(
        select(func.min(DeviceReportRecord.time), func.max(DeviceReportRecord.time), func.count())
        .where(DeviceReportRecord.person_id == person.id)).one()
    # The bundle carries the reports of the devices fitted now; earlier devices' reports go alongside it.
    in_bundle = {d.id for s in bundle.plan.subjects for d in s.devices}
    others = [record_to_report(r) for r in session.execute(
        select(DeviceReportRecord).where(DeviceReportRecord.person_id == person.id,
                                         DeviceReportRecord.device.not_in(in_bundle) if in_bundle else true())
        .order_by(DeviceReportRecord.time, DeviceReportRecord.id)).scalars()]
    write_ndjson(directory / "other-devices-reports.ndjson", (r.to_json() for r in others))
    records["positions_summary"] = {"reports": len(bundle.reports), "other_devices_reports": len(others),
                                    "with_person_id": int(fixes), "first": _value(first), "last": _value(last)}
    records["exported_at"] = now.isoformat()
    records_path = directory / "records.json"
    records_path.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    pdf_path = directory / "subject-access.pdf"
    write_pdf(pdf_path, person, records, bundle.reports, now)
    record(session, actor, "subject_access_export", "person", person.id, person_id=person.id, purpose=purpose,
           detail={"reports": len(bundle.reports), "alerts": len(bundle.alerts), "directory": directory.name},
           at=now)
    return SubjectAccessExport(directory, directory / "bundle", records_path, pdf_path, len(bundle.reports),
                               len(bundle.alerts))


# -- the PDF ----------------------------------------------------------------------------------------------------
def _fonts() -> tuple[str, str]:
    if "KuzetSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("KuzetSans", str(FONT_REGULAR)))
        pdfmetrics.registerFont(TTFont("KuzetSans-Bold", str(FONT_BOLD)))
    return "KuzetSans", "KuzetSans-Bold"


def _table(rows: list[list[str]], widths: list[float], font: str, bold: str) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), font, 7.5), ("FONT", (0, 0), (-1, 0), bold, 7.5),
                               ("GRID", (0, 0), (-1, -1), 0.25, "#888888"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), "#e8e8e8")]))
    return table


def write_pdf(path: Path, person: Person, records: dict[str, Any], reports: list[Any], now: datetime) -> None:
    font, bold = _fonts()
    base = getSampleStyleSheet()
    h1 = ParagraphStyle("h1", parent=base["Heading1"], fontName=bold, fontSize=15)
    h2 = ParagraphStyle("h2", parent=base["Heading2"], fontName=bold, fontSize=11.5)
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=font, fontSize=9)
    story: list[Any] = [
        Paragraph("Дербес деректер субъектісінің сұрауы бойынша үзінді / "
                  "Выписка по запросу субъекта персональных данных", h1),
        Paragraph(f"Құрылған күні / Дата составления: {now.strftime('%Y-%m-%d %H:%M UTC')}", body),
        Spacer(1, 4 * mm),
        Paragraph("Тұлға / Лицо", h2),
    ]
    p = records["person"]
    ident = [["Өріс / Поле", "Мәні / Значение"]] + [
        [k, str(p.get(k) or "")] for k in ("code", "surname", "given_name", "patronymic", "birth_date", "iin",
                                           "phone", "address", "category", "status", "timezone")]
    story.append(_table(ident, [50 * mm, 120 * mm], font, bold))
    story += [Paragraph("Сот шешімдері / Судебные решения", h2)]
    orders = [["Нұсқа / Версия", "Түрі / Вид", "Күшіне енді / Действует с", "Мәртебе / Статус"]] + [
        [str(o["version"]), str(o["variation"]), str(o["effective_from"])[:19], str(o["status"])]
        for o in records["court_orders"]]
    story.append(_table(orders, [30 * mm, 45 * mm, 55 * mm, 40 * mm], font, bold))
    story += [Paragraph("Құрылғылар / Устройства", h2)]
    devices = [["Сериялық нөмір / Серийный номер", "Тағылды / Установлено", "Алынды / Снято"]] + [
        [str(a["device_serial"]), str(a["fitted_at"])[:19], str(a["removed_at"] or "")[:19]]
        for a in records["assignments"]]
    story.append(_table(devices, [60 * mm, 55 * mm, 55 * mm], font, bold))
    summary = records["positions_summary"]
    story += [Paragraph("Орналасу деректері / Данные о местоположении", h2),
              Paragraph(f"Барлығы / Всего: {summary['reports']}; бірінші / первое: {summary['first'] or '-'}; "
                        f"соңғы / последнее: {summary['last'] or '-'}. "
                        f"Толық тізім қоса берілген ашық форматта / Полный список — в приложенном открытом "
                        f"формате (bundle/reports.ndjson).", body)]
    positions = [["Уақыт / Время (UTC)", "Ендік / Широта", "Бойлық / Долгота", "Дәлдік / Точность, м"]]
    for _, r in reports[:PDF_POSITIONS]:
        positions.append([r.time.strftime("%Y-%m-%d %H:%M:%S"), "" if r.lat is None else f"{r.lat:.5f}",
                          "" if r.lon is None else f"{r.lon:.5f}",
                          "" if r.accuracy_m is None else f"{r.accuracy_m:.0f}"])
    story.append(_table(positions, [50 * mm, 40 * mm, 40 * mm, 40 * mm], font, bold))
    story += [Paragraph("Дабылдар / Тревоги", h2)]
    alerts = [["Түрі / Тип", "Басталды / Начало", "Аяқталды / Конец", "Мәртебе / Статус"]] + [
        [str(a["type"]), str(a["start"])[:19], str(a["end"] or "")[:19], str(a["status"])]
        for a in records["alerts"]]
    story.append(_table(alerts, [45 * mm, 45 * mm, 45 * mm, 35 * mm], font, bold))
    story += [Paragraph("Деректерге кім қол жеткізді / Кто обращался к данным", h2)]
    audit = [["Уақыт / Время", "Пайдаланушы / Пользователь", "Рөл / Роль", "Әрекет / Действие",
              "Мақсаты / Цель"]] + [
        [str(e["at"])[:19], str(e["username"]), str(e["role"]), str(e["action"]),
         Paragraph(str(e["purpose"]), body)] for e in records["audit"]]
    story.append(_table(audit, [32 * mm, 32 * mm, 25 * mm, 30 * mm, 51 * mm], font, bold))
    if records["court_holds"]:
        story += [Paragraph("Сот тыйымдары / Судебные запреты на удаление", h2)]
        holds = [["Іс / Дело", "Басы / С", "Соңы / По", "Босатылды / Снят"]] + [
            [str(h["case_reference"]), str(h["range_start"] or "")[:19], str(h["range_end"] or "")[:19],
             str(h["released_at"] or "")[:19]] for h in records["court_holds"]]
        story.append(_table(holds, [50 * mm, 40 * mm, 40 * mm, 40 * mm], font, bold))
    SimpleDocTemplate(str(path), pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                      bottomMargin=16 * mm, title=f"Subject access {person.code}", author="Kuzet").build(story)
