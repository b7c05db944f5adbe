"""Court evidence packs for a violation, and their verification against the store.

A pack is a PDF (Kazakh or Russian) with the order and conditions in force, the zone and schedule, a map of
the trail with each fix's accuracy, the alert timeline and the actions taken, and the SHA-256 of every
record it rests on. The same hashes are embedded in the PDF as ``manifest.json``, so ``kuzet evidence verify``
can recompute them from the store: a changed fix, alert or order makes verification fail.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import orjson
from matplotlib.patches import Circle as CirclePatch
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.assets import FONT_BOLD, FONT_REGULAR
from kuzet.audit import Actor, record
from kuzet.domain.geometry import LocalProjection, points_lonlat, shape_from_geojson
from kuzet.store.models import (
    AlertAction,
    AlertRecord,
    AuditEntry,
    CourtOrder,
    DeviceReportRecord,
    Person,
    ZoneRecord,
)

from .records import record_hash

MANIFEST_NAME = "manifest.json"
TRAIL_MARGIN = timedelta(minutes=30)

TEXT: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Доказательный пакет по нарушению", "person": "Лицо", "order": "Приговор (постановление) суда",
        "court": "Суд", "case": "Номер дела", "article": "Статья УК", "category": "Категория",
        "version": "Редакция", "conditions": "Условия и обязанности", "zone": "Зона", "schedule": "График",
        "always": "постоянно", "alert": "Нарушение", "type": "Тип", "start": "Начало", "end": "Окончание",
        "raised": "Зарегистрировано системой", "severity": "Тяжесть", "confidence": "Достоверность",
        "open": "продолжается", "timeline": "Хронология и принятые меры", "trail": "Трек (точность каждой точки)",
        "time": "Время", "lat": "Широта", "lon": "Долгота", "acc": "Точность, м", "src": "Источник",
        "hashes": "Контрольные суммы записей (SHA-256)", "record": "Запись", "generated": "Сформировано",
        "tz": "Время указано в часовом поясе", "none": "нет",
        "zone_changed": "Зона приведена в редакции, действовавшей на момент нарушения (изменена {when}; "
                        "прежняя редакция взята из журнала аудита).",
    },
    "kk": {
        "title": "Бұзушылық бойынша дәлелдемелер пакеті", "person": "Тұлға", "order": "Сот үкімі (қаулысы)",
        "court": "Сот", "case": "Іс нөмірі", "article": "ҚК бабы", "category": "Санат",
        "version": "Редакция", "conditions": "Шарттар мен міндеттер", "zone": "Аймақ", "schedule": "Кесте",
        "always": "тұрақты", "alert": "Бұзушылық", "type": "Түрі", "start": "Басталуы", "end": "Аяқталуы",
        "raised": "Жүйе тіркеген уақыт", "severity": "Ауырлығы", "confidence": "Сенімділік",
        "open": "жалғасуда", "timeline": "Хронология және қабылданған шаралар",
        "trail": "Трек (әр нүктенің дәлдігі)", "time": "Уақыт", "lat": "Ендік", "lon": "Бойлық",
        "acc": "Дәлдік, м", "src": "Көзі", "hashes": "Жазбалардың бақылау сомалары (SHA-256)",
        "record": "Жазба", "generated": "Жасалған", "tz": "Уақыт белдеуі", "none": "жоқ",
        "zone_changed": "Аймақ бұзушылық кезінде қолданыста болған редакциясында көрсетілген ({when} өзгертілген; "
                        "бұрынғы редакция аудит журналынан алынған).",
    },
}


@dataclass(frozen=True, slots=True)
class EvidenceRecords:
    alert: AlertRecord
    person: Person | None
    order: CourtOrder | None
    zone: ZoneRecord | None
    fixes: list[DeviceReportRecord]
    actions: list[AlertAction]
    #: The first audited change of the zone after the alert started: its ``before`` is the zone in force then.
    zone_change: AuditEntry | None = None

    @property
    def zone_in_force(self) -> ZoneVersion | None:
        """The zone (shape, kind, schedule, grace) as it was when the alert started, not as it is now."""
        if self.zone is None:
            return None
        z = self.zone
        if self.zone_change is None:
            return ZoneVersion(z.code, z.kind, z.shape, z.schedule, z.grace_s)
        before = self.zone_change.detail["before"]
        return ZoneVersion(z.code, before["kind"], before["shape"], before["schedule"], float(before["grace_s"]))


@dataclass(frozen=True, slots=True)
class ZoneVersion:
    code: str
    kind: str
    shape: dict[str, Any]
    schedule: list[Any] | None
    grace_s: float


def collect(session: Session, alert_id: int) -> EvidenceRecords:
    alert = session.get(AlertRecord, alert_id)
    if alert is None:
        raise LookupError(f"alert {alert_id} not found")
    person = session.get(Person, alert.person_id) if alert.person_id else None
    order = None
    zone = None
    fixes: list[DeviceReportRecord] = []
    if person is not None:
        order = session.execute(
            select(CourtOrder).where(CourtOrder.person_id == person.id, CourtOrder.effective_from <= alert.start)
            .order_by(CourtOrder.version.desc()).limit(1)).scalar_one_or_none()
        if alert.target:
            zone = session.execute(select(ZoneRecord).where(ZoneRecord.person_id == person.id,
                                                            ZoneRecord.code == alert.target)).scalar_one_or_none()
        end = (alert.end or alert.start + timedelta(hours=2)) + TRAIL_MARGIN
        fixes = list(session.execute(
            select(DeviceReportRecord).where(DeviceReportRecord.person_id == person.id,
                                             DeviceReportRecord.time >= alert.start - TRAIL_MARGIN,
                                             DeviceReportRecord.time <= end)
            .order_by(DeviceReportRecord.time, DeviceReportRecord.id)).scalars())
    actions = list(session.execute(select(AlertAction).where(AlertAction.alert_id == alert.id)
                                   .order_by(AlertAction.id)).scalars())
    change = None
    if zone is not None:
        # Zones are edited in place; every edit is in the hash-chained audit trail with the zone before it.
        change = session.execute(
            select(AuditEntry).where(AuditEntry.object_type == "zone", AuditEntry.object_id == str(zone.id),
                                     AuditEntry.action == "update", AuditEntry.at > alert.start)
            .order_by(AuditEntry.at, AuditEntry.id).limit(1)).scalar_one_or_none()
        if change is not None and not isinstance((change.detail or {}).get("before"), dict):
            change = None
    return EvidenceRecords(alert, person, order, zone, fixes, actions, change)


def manifest(ev: EvidenceRecords) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"table": "alerts", "id": ev.alert.id, "sha256": record_hash(ev.alert)}]
    # The zone shown is the one in force at the alert: the zone row when unchanged since, else the audit entry
    # that holds it (a later edit of the zone then does not invalidate the pack).
    zone_source = ("zones", ev.zone) if ev.zone_change is None else ("audit_trail", ev.zone_change)
    for table, row in (("people", ev.person), ("court_orders", ev.order), zone_source):
        if row is not None:
            items.append({"table": table, "id": row.id, "sha256": record_hash(row)})
    items += [{"table": "alert_actions", "id": a.id, "sha256": record_hash(a)} for a in ev.actions]
    items += [{"table": "device_reports", "id": f.id, "sha256": record_hash(f)} for f in ev.fixes]
    return {"format": "kuzet-evidence/1", "alert_id": ev.alert.id, "records": items}


def _map_png(ev: EvidenceRecords) -> bytes | None:
    fixes = [f for f in ev.fixes if f.lat is not None and f.lon is not None]
    zone = ev.zone_in_force
    if not fixes and zone is None:
        return None
    anchor = (fixes[0].lon, fixes[0].lat) if fixes else shape_from_geojson(zone.shape).anchor  # type: ignore[union-attr]
    proj = LocalProjection.about(anchor)  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(6.5, 5.0), dpi=110)
    if zone is not None:
        outline = [proj.forward(*p) for p in points_lonlat(shape_from_geojson(zone.shape))]
        ax.fill([p[0] for p in outline], [p[1] for p in outline], alpha=0.2,
                color="tab:green" if zone.kind == "inclusion" else "tab:red")
    xs, ys = [], []
    for f in fixes:
        x, y = proj.forward(f.lon, f.lat)  # type: ignore[arg-type]
        xs.append(x)
        ys.append(y)
        inside = ev.alert.start <= f.time <= (ev.alert.end or f.time)
        ax.add_patch(CirclePatch((x, y), f.accuracy_m or 0.0, fill=False, lw=0.5,
                                 color="tab:red" if inside else "tab:blue", alpha=0.5))
    ax.plot(xs, ys, "-o", ms=2, lw=0.7, color="black")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("m (E)")
    ax.set_ylabel("m (N)")
    ax.grid(True, lw=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _fonts() -> None:
    if "KuzetSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("KuzetSans", str(FONT_REGULAR)))
        pdfmetrics.registerFont(TTFont("KuzetSans-Bold", str(FONT_BOLD)))


def render_pdf(ev: EvidenceRecords, *, language: str = "ru", timezone: str = "Asia/Almaty",
               generated_at: datetime) -> bytes:
    """Render the pack; ``language`` is ``kk`` or ``ru`` (the languages of Kazakhstan's courts)."""
    if language not in TEXT:
        raise ValueError(f"evidence packs are made in Kazakh (kk) or Russian (ru), not {language!r}")
    t = TEXT[language]
    tz = ZoneInfo(timezone)
    _fonts()
    body = ParagraphStyle("body", fontName="KuzetSans", fontSize=9, leading=12)
    head = ParagraphStyle("head", fontName="KuzetSans-Bold", fontSize=12, leading=16, spaceBefore=6)
    title = ParagraphStyle("title", fontName="KuzetSans-Bold", fontSize=15, leading=20)

    def local(value: datetime | None) -> str:
        return t["open"] if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    def table(rows: list[list[str]], widths: list[float] | None = None) -> Table:
        tbl = Table(rows, colWidths=widths, repeatRows=1)
        tbl.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "KuzetSans"), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                                 ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                 ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))
        return tbl

    a = ev.alert
    story: list[Any] = [Paragraph(f"{t['title']} № {a.id}", title),
                        Paragraph(f"{t['generated']}: {local(generated_at)}. {t['tz']}: {timezone}", body)]
    if ev.person is not None:
        story += [Paragraph(t["person"], head), Paragraph(f"{ev.person.display_name} ({ev.person.code})", body)]
    story.append(Paragraph(t["order"], head))
    if ev.order is not None:
        o = ev.order
        story.append(table([[t["court"], t["case"], t["article"], t["category"], t["version"]],
                            [o.court or "—", o.case_number or "—", o.article or "—", o.category, str(o.version)]]))
        conds = "; ".join(str(c) for c in (o.conditions or []) + (o.obligations or [])) or t["none"]
        story.append(Paragraph(f"{t['conditions']}: {conds}", body))
    else:
        story.append(Paragraph(t["none"], body))
    zone = ev.zone_in_force
    if zone is not None:
        sched = zone.schedule
        sched_text = t["always"] if sched is None else "; ".join(
            f"{','.join(w['days'])} {w['start']}–{w['end']}" for w in sched)
        story += [Paragraph(t["zone"], head),
                  Paragraph(f"{zone.code} ({zone.kind}), grace {zone.grace_s:.0f} s. "
                            f"{t['schedule']}: {sched_text}", body)]
        if ev.zone_change is not None:
            story.append(Paragraph(t["zone_changed"].format(when=local(ev.zone_change.at)), body))
    story += [Paragraph(t["alert"], head),
              table([[t["type"], t["start"], t["end"], t["raised"], t["severity"], t["confidence"]],
                     [a.type, local(a.start), local(a.end), local(a.raised_at), a.severity, f"{a.confidence:.2f}"]])]
    png = _map_png(ev)
    if png is not None:
        story += [Paragraph(t["trail"], head), Image(io.BytesIO(png), width=160 * mm, height=123 * mm)]
    story.append(Paragraph(t["timeline"], head))
    timeline = [[t["time"], "", ""], [local(a.raised_at), "raised", ""]]
    timeline += [[local(x.at), x.kind, x.note[:80]] for x in ev.actions]
    story.append(table(timeline, [40 * mm, 35 * mm, 95 * mm]))
    if ev.fixes:
        story.append(Paragraph(t["trail"], head))
        rows = [[t["time"], t["lat"], t["lon"], t["acc"], t["src"]]]
        rows += [[local(f.time), f"{f.lat:.6f}" if f.lat is not None else "—",
                  f"{f.lon:.6f}" if f.lon is not None else "—",
                  f"{f.accuracy_m:.0f}" if f.accuracy_m is not None else "—", f.source] for f in ev.fixes]
        story.append(table(rows))
    story.append(Paragraph(t["hashes"], head))
    man = manifest(ev)
    story.append(table([[t["record"], "SHA-256"]] + [[f"{r['table']}#{r['id']}", r["sha256"]]
                                                     for r in man["records"]], [40 * mm, 130 * mm]))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, title=f"{t['title']} {a.id}", author="Kuzet",
                      leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm).build(story)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.add_attachment(MANIFEST_NAME, orjson.dumps(man, option=orjson.OPT_INDENT_2))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_evidence_pack(session: Session, actor: Actor, alert_id: int, *, language: str = "ru",
                        purpose: str, timezone: str = "Asia/Almaty", now: datetime) -> bytes:
    """Collect, render and audit an evidence pack (a read of location data: it is always recorded)."""
    ev = collect(session, alert_id)
    pdf = render_pdf(ev, language=language, timezone=timezone, generated_at=now)
    record(session, actor, "evidence_pack", "alert", alert_id, person_id=ev.alert.person_id, purpose=purpose,
           detail={"language": language, "fixes": len(ev.fixes)})
    return pdf


@dataclass(frozen=True, slots=True)
class PackVerification:
    ok: bool
    checked: int
    problems: list[str]


def read_manifest(pdf: bytes | Path) -> dict[str, Any]:
    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    try:
        attachments = PdfReader(io.BytesIO(data)).attachments
    except PdfReadError as exc:
        raise ValueError(f"not a readable PDF: {exc}") from None
    if MANIFEST_NAME not in attachments:
        raise ValueError("not a Kuzet evidence pack: no embedded manifest.json")
    return dict(orjson.loads(attachments[MANIFEST_NAME][0]))


_TABLES = {"alerts": AlertRecord, "people": Person, "court_orders": CourtOrder, "zones": ZoneRecord,
           "alert_actions": AlertAction, "device_reports": DeviceReportRecord, "audit_trail": AuditEntry}


def verify_pack(session: Session, pdf: bytes | Path) -> PackVerification:
    """Recompute every record hash in the pack's manifest from the store."""
    man = read_manifest(pdf)
    problems = []
    for item in man["records"]:
        model = _TABLES.get(item["table"])
        if model is None:
            problems.append(f"{item['table']}#{item['id']}: unknown table")
            continue
        row = session.get(model, item["id"])
        if row is None:
            problems.append(f"{item['table']}#{item['id']}: missing from the store")
        elif record_hash(row) != item["sha256"]:
            problems.append(f"{item['table']}#{item['id']}: changed since the pack was made")
    return PackVerification(not problems, len(man["records"]), problems)
