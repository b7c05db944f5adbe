"""The space-time index of monitored people's positions, fed from ``device_reports``.

Each fix with a position and a person goes into ``privacy_position_cells`` under an H3 cell, with a covering
B-tree on ``(cell, time, ...)``: a place-and-window query reads only the cells that can hold a fix near the
place and, inside each cell, only the window, from the index alone. It works the same on SQLite and
PostgreSQL (``docs/decisions/004-crime-match-index.md`` says why, with the measurements).

The cell's resolution follows the fix's accuracy (:data:`LEVELS`): a 10 m GPS fix is filed in a cell of about
200 m, a 600 m cell-tower fix in a cell of about 1.2 km. A query reads, at each level, the cells overlapping
the place grown by that level's accuracy bound, so a coarse fix that could reach the place is never missed
and a fine query never wades through coarse cells. Fixes coarser than the last level are filed under
:data:`WIDE_CELL` and every query reads them (they should not exist: 4 km is no position at all).

``privacy_trail_hours`` keeps, per person and clock hour, how many fixes there were, the first and last, and
their extent, so that "has data in the window" is answered without reading fixes.

This module only derives data. It never decides who was where (``matching`` does), and it never holds a fix
that ``device_reports`` does not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from h3.api import basic_int as h3i
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kuzet.store.db import upsert_insert
from kuzet.store.models import DeviceReportRecord

from .models import PositionCell, TrailHour

#: (H3 resolution, largest accuracy in metres) per level, finest first. Resolution 9 cells are about
#: 0.1 km² (edges ~200 m), 8: 0.74 km², 7: 5.2 km², 6: 36 km².
LEVELS: tuple[tuple[int, float], ...] = ((9, 60.0), (8, 250.0), (7, 1000.0), (6, 4000.0))
#: Cell of fixes coarser than every level: read by every query.
WIDE_CELL = 0
#: Accuracy assumed for a fix that does not state one (metres): a cautious figure for an urban GPS fix.
UNKNOWN_ACCURACY_M = 100.0


def cell_of(lat: float, lon: float, accuracy_m: float) -> int:
    """The index cell of a fix: at the finest level whose accuracy bound the fix meets.

    >>> cell_of(43.2389, 76.8897, 10.0) == cell_of(43.23891, 76.88971, 10.0)
    True
    >>> h3i.get_resolution(cell_of(43.2389, 76.8897, 600.0))
    7
    >>> cell_of(43.2389, 76.8897, 9000.0)
    0
    """
    for resolution, bound in LEVELS:
        if accuracy_m <= bound:
            return int(h3i.latlng_to_cell(lat, lon, resolution))
    return WIDE_CELL


def hour_of(time: datetime) -> datetime:
    return time.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class IndexedFix:
    report_id: int
    person_id: int
    time: datetime
    lat: float
    lon: float
    accuracy_m: float


def _get(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def _fixes(session: Session, rows: Sequence[Any]) -> list[IndexedFix]:
    """The indexable fixes among ``rows`` (records or ``report_to_record`` dicts), with their report ids."""
    usable = [r for r in rows if _get(r, "person_id") is not None and _get(r, "lat") is not None
              and _get(r, "lon") is not None]
    missing = [str(_get(r, "dedup_key")) for r in usable if _get(r, "id") is None]
    ids: dict[str, int] = {}
    for i in range(0, len(missing), 500):
        part = missing[i : i + 500]
        ids.update(session.execute(select(DeviceReportRecord.dedup_key, DeviceReportRecord.id)
                                   .where(DeviceReportRecord.dedup_key.in_(part))).all())
    out = []
    for r in usable:
        report_id = _get(r, "id")
        if report_id is None:
            report_id = ids.get(str(_get(r, "dedup_key")))
        if report_id is None:
            raise LookupError(f"report {_get(r, 'dedup_key')} is not stored: store positions before indexing them")
        acc = _get(r, "accuracy_m")
        time = _get(r, "time")
        if not isinstance(time, datetime) or time.tzinfo is None:
            raise ValueError(f"report {report_id}: time must be a timezone-aware datetime, got {time!r}")
        out.append(IndexedFix(int(report_id), int(_get(r, "person_id")), time.astimezone(UTC),
                              float(_get(r, "lat")), float(_get(r, "lon")),
                              UNKNOWN_ACCURACY_M if acc is None else float(acc)))
    return out


def _least(session: Session) -> tuple[Callable[..., Any], Callable[..., Any]]:
    if session.get_bind().dialect.name == "postgresql":
        return func.least, func.greatest
    return func.min, func.max  # SQLite's two-argument min()/max() are scalar


def add_hours(session: Session, fixes: Iterable[IndexedFix]) -> None:
    """Fold fixes into the per-person-hour summaries (upsert)."""
    hours: dict[tuple[int, datetime], dict[str, Any]] = {}
    for f in fixes:
        key = (f.person_id, hour_of(f.time))
        h = hours.get(key)
        if h is None:
            hours[key] = {"person_id": key[0], "hour": key[1], "fixes": 1, "first_time": f.time,
                          "last_time": f.time, "min_lat": f.lat, "max_lat": f.lat, "min_lon": f.lon,
                          "max_lon": f.lon, "max_accuracy_m": f.accuracy_m}
            continue
        h["fixes"] += 1
        h["first_time"] = min(h["first_time"], f.time)
        h["last_time"] = max(h["last_time"], f.time)
        h["min_lat"], h["max_lat"] = min(h["min_lat"], f.lat), max(h["max_lat"], f.lat)
        h["min_lon"], h["max_lon"] = min(h["min_lon"], f.lon), max(h["max_lon"], f.lon)
        h["max_accuracy_m"] = max(h["max_accuracy_m"], f.accuracy_m)
    if not hours:
        return
    least, greatest = _least(session)
    t = TrailHour.__table__.c
    rows = list(hours.values())
    for i in range(0, len(rows), 1000):
        stmt = upsert_insert(session, TrailHour)
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["person_id", "hour"],
            set_={"fixes": t.fixes + ex.fixes, "first_time": least(t.first_time, ex.first_time),
                  "last_time": greatest(t.last_time, ex.last_time), "min_lat": least(t.min_lat, ex.min_lat),
                  "max_lat": greatest(t.max_lat, ex.max_lat), "min_lon": least(t.min_lon, ex.min_lon),
                  "max_lon": greatest(t.max_lon, ex.max_lon),
                  "max_accuracy_m": greatest(t.max_accuracy_m, ex.max_accuracy_m)})
        session.execute(stmt, rows[i : i + 1000])


def index_positions(session: Session, rows: Sequence[Any]) -> int:
    """Index stored positions; call it in the same transaction, after ``store_reports``.

    ``rows`` are ``DeviceReportRecord`` objects or the dicts given to ``store_reports`` (looked up by
    ``dedup_key``). Reports without a person or a position are skipped; indexing a fix twice is harmless.
    Returns how many fixes were newly indexed.
    """
    fixes = _fixes(session, rows)
    if not fixes:
        return 0
    new_ids: set[int] = set()
    for i in range(0, len(fixes), 2000):
        part = fixes[i : i + 2000]
        stmt = upsert_insert(session, PositionCell).on_conflict_do_nothing(index_elements=["report_id"])
        values = [{"report_id": f.report_id, "cell": cell_of(f.lat, f.lon, f.accuracy_m), "time": f.time,
                   "person_id": f.person_id, "lat": f.lat, "lon": f.lon, "accuracy_m": f.accuracy_m}
                  for f in part]
        new_ids.update(session.execute(stmt.returning(PositionCell.report_id), values).scalars().all())
    add_hours(session, (f for f in fixes if f.report_id in new_ids))
    return len(new_ids)


def backfill_index(session: Session, *, batch: int = 20_000, full: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> int:
    """Index stored positions not yet indexed, in report id order. Returns how many were added.

    By default only reports newer than the last indexed one are read; ``full=True`` also walks every older
    report (for a store whose reports were written for a while without :func:`index_positions`).
    """
    last = session.execute(select(func.max(PositionCell.report_id))).scalar() or 0
    total = 0
    for start_after in (last, 0) if full else (last,):
        cursor = start_after
        while True:
            rows = session.execute(
                select(DeviceReportRecord.id, DeviceReportRecord.person_id, DeviceReportRecord.time,
                       DeviceReportRecord.lat, DeviceReportRecord.lon, DeviceReportRecord.accuracy_m,
                       DeviceReportRecord.dedup_key)
                .where(DeviceReportRecord.id > cursor, DeviceReportRecord.person_id.is_not(None),
                       DeviceReportRecord.lat.is_not(None), DeviceReportRecord.lon.is_not(None))
                .order_by(DeviceReportRecord.id).limit(batch)
            ).mappings().all()
            if not rows:
                break
            if start_after == 0:
                known = set(session.execute(select(PositionCell.report_id).where(
                    PositionCell.report_id.in_([r["id"] for r in rows]))).scalars())
                todo = [r for r in rows if r["id"] not in known]
            else:
                todo = list(rows)
            total += index_positions(session, todo)
            cursor = rows[-1]["id"]
            if progress is not None:
                progress(total, cursor)
        if last == 0:
            break
    return total


def refresh_hours(session: Session, keys: Iterable[tuple[int, datetime]]) -> None:
    """Recompute the given person-hour summaries from the indexed fixes (after a partial deletion)."""
    for person_id, hour in set(keys):
        session.execute(delete(TrailHour).where(TrailHour.person_id == person_id, TrailHour.hour == hour))
        rows = session.execute(
            select(PositionCell).where(PositionCell.person_id == person_id, PositionCell.time >= hour,
                                       PositionCell.time < hour + timedelta(hours=1))).scalars().all()
        add_hours(session, [IndexedFix(r.report_id, r.person_id, r.time, r.lat, r.lon, r.accuracy_m)
                            for r in rows])
