"""Storing device reports idempotently: re-delivery of the same report never makes a second row."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kuzet.domain.reports import DeviceReport

from .models import DeviceReportRecord


def dedup_key(report: DeviceReport) -> str:
    """Idempotency key: device + seq when the device numbers its reports, else device + time + content hash."""
    if report.seq is not None:
        return f"{report.device}#{report.seq}"
    body = report.to_json()
    body.pop("received", None)
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    return f"{report.device}@{report.time.isoformat()}@{digest}"


def report_to_record(report: DeviceReport, person_id: int | None, *, line: int | None = None,
                     protocol: str = "") -> dict[str, Any]:
    return {
        "dedup_key": dedup_key(report), "device": report.device, "person_id": person_id, "seq": report.seq,
        "time": report.time, "received": report.received, "lat": report.lat, "lon": report.lon,
        "accuracy_m": report.accuracy_m, "source": report.source.value, "satellites": report.satellites,
        "speed_kmh": report.speed_kmh, "heading_deg": report.heading_deg, "altitude_m": report.altitude_m,
        "battery_pct": report.battery_pct, "charging": report.charging,
        "strap": None if report.strap is None else report.strap.value,
        "case": None if report.case is None else report.case.value,
        "events": list(report.events), "extra": dict(report.extra), "protocol": protocol, "raw": report.raw,
        "line": line,
    }


def store_reports(session: Session, rows: Sequence[dict[str, Any]], chunk: int = 2000) -> int:
    """Insert rows, skipping any whose ``dedup_key`` is already stored. Returns how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    new = 0
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        if dialect == "sqlite":
            stmt: Any = sqlite_insert(DeviceReportRecord).on_conflict_do_nothing(index_elements=["dedup_key"])
        elif dialect == "postgresql":
            stmt = pg_insert(DeviceReportRecord).on_conflict_do_nothing(index_elements=["dedup_key"])
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            stmt = insert(DeviceReportRecord)
        new += len(session.execute(stmt.returning(DeviceReportRecord.id), part).all())
    return new
