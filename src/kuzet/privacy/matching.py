"""Crime-scene matching: who under monitoring was at a place during a time window, and who was elsewhere.

A police liaison asks with a place (a circle, or a polygon), a window ``[start, end)`` (start inclusive, end
exclusive), a case reference and a reason. The answer sorts the monitored people into four groups:

* **within** — at least one fix whose whole confidence circle (position ± accuracy) lies in the place;
* **possibly within** — no such fix, but at least one whose confidence circle touches the place;
* **elsewhere** — fixes in the window, none of them touching the place: the trail rules them out as far as
  it goes (the result says how many fixes, first and last, and how close they can at most have come);
* **no data** — fitted with a device during the window, but no fix in it: neither in nor out.

For the first two the result gives the closest approach (distance from the centre of a circle, or from the
polygon, 0 inside), its time and the accuracy of that fix, and when the person was first and last near.
Every boundary is inclusive: a fix exactly ``radius`` away with accuracy 0 is within.

The algorithm is versioned (:data:`ALGORITHM_VERSION`), recorded in every result and audit entry, so an old
answer can always be explained by the rules that produced it. Only the police-liaison role may ask, with a
case reference and a reason; the question and the whole answer go to the audit trail, with one entry per
person placed near the scene. This module never returns locations of anyone not near the place.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import h3
import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.audit.chain import entry_hash
from kuzet.domain.enums import Role
from kuzet.domain.geometry import Circle, LocalProjection, PolygonShape, shape_from_geojson
from kuzet.store.models import Assignment, AuditEntry, DeviceReportRecord, Person

from .index import LEVELS, WIDE_CELL
from .models import PositionCell, TrailHour

ALGORITHM_VERSION = "kuzet-crime-match/1"
#: The longest window one question may cover (proportionality: a crime has a time, not a season).
MAX_WINDOW = timedelta(days=7)
#: The largest radius (or polygon extent) one question may cover, in metres.
MAX_RADIUS_M = 5_000.0


class MatchRefused(PermissionError):
    """The question may not be asked: wrong role, or no case reference or reason (HTTP 403 / 422)."""


class MatchQueryError(ValueError):
    """The question is malformed: names what was wrong."""


class Proximity(StrEnum):
    WITHIN = "within"
    POSSIBLY_WITHIN = "possibly_within"
    ELSEWHERE = "elsewhere"
    NO_DATA = "no_data"


CrimePlace = Circle | PolygonShape


@dataclass(frozen=True, slots=True)
class CrimeSceneQuery:
    """A police question: the place, the window ``[start, end)``, the case and why it is asked."""

    place: CrimePlace
    start: datetime
    end: datetime
    case_reference: str
    reason: str

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise MatchQueryError(f"{name} must be a timezone-aware datetime, got {value!r}")
        if self.end <= self.start:
            raise MatchQueryError(f"the window must end after it starts ({self.start} .. {self.end})")
        if self.end - self.start > MAX_WINDOW:
            raise MatchQueryError(f"the window is {self.end - self.start}; at most {MAX_WINDOW} may be asked")
        if not isinstance(self.place, Circle | PolygonShape):
            raise MatchQueryError("the place must be a circle or a polygon")
        if isinstance(self.place, Circle) and self.place.radius_m > MAX_RADIUS_M:
            raise MatchQueryError(f"radius {self.place.radius_m} m is over the {MAX_RADIUS_M:.0f} m limit")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrimeSceneQuery:
        """From ``{"place": GeoJSON circle/polygon, "start", "end", "case_reference", "reason"}``."""
        try:
            place = shape_from_geojson(data["place"])
            start = datetime.fromisoformat(str(data["start"]))
            end = datetime.fromisoformat(str(data["end"]))
        except KeyError as exc:
            raise MatchQueryError(f"missing field {exc.args[0]}") from None
        except ValueError as exc:
            raise MatchQueryError(str(exc)) from None
        if not isinstance(place, Circle | PolygonShape):
            raise MatchQueryError("the place must be a circle or a polygon")
        return cls(place, start, end, str(data.get("case_reference", "")), str(data.get("reason", "")))

    def to_json(self) -> dict[str, Any]:
        return {"place": self.place.to_geojson(), "start": self.start.isoformat(), "end": self.end.isoformat(),
                "case_reference": self.case_reference, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class NearPerson:
    """A person with fixes within or possibly within the place."""

    person_id: int
    person_code: str
    proximity: Proximity
    closest_m: float
    closest_time: datetime
    closest_accuracy_m: float
    near_fixes: int
    first_near: datetime
    last_near: datetime

    def to_json(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "person_code": self.person_code, "proximity": self.proximity.value,
                "closest_m": round(self.closest_m, 1), "closest_time": self.closest_time.isoformat(),
                "closest_accuracy_m": self.closest_accuracy_m, "near_fixes": self.near_fixes,
                "first_near": self.first_near.isoformat(), "last_near": self.last_near.isoformat()}


@dataclass(frozen=True, slots=True)
class ElsewherePerson:
    """A person whose fixes in the window all lie away from the place."""

    person_id: int
    person_code: str
    #: Fixes in the clock hours overlapping the window (the edges may count a few outside it).
    fixes: int
    first_fix: datetime
    last_fix: datetime
    #: A lower bound of how close to the place any fix's confidence circle came, in metres.
    never_closer_than_m: float

    def to_json(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "person_code": self.person_code, "fixes": self.fixes,
                "first_fix": self.first_fix.isoformat(), "last_fix": self.last_fix.isoformat(),
                "never_closer_than_m": round(self.never_closer_than_m, 1)}


@dataclass(frozen=True, slots=True)
class MatchResult:
    query: CrimeSceneQuery
    algorithm_version: str
    run_at: datetime
    within: list[NearPerson]
    possibly_within: list[NearPerson]
    elsewhere: list[ElsewherePerson]
    no_data: list[tuple[int, str]]
    audit_id: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"algorithm_version": self.algorithm_version, "run_at": self.run_at.isoformat(),
                "query": self.query.to_json(), "audit_id": self.audit_id,
                "within": [p.to_json() for p in self.within],
                "possibly_within": [p.to_json() for p in self.possibly_within],
                "elsewhere": [p.to_json() for p in self.elsewhere],
                "no_data": [{"person_id": i, "person_code": c} for i, c in self.no_data]}


# -- geometry of the place ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Geometry:
    proj: LocalProjection
    local: BaseGeometry  # the place in local metres
    circle: tuple[float, float, float] | None  # (x, y, r) when the place is a circle


def _geometry(place: CrimePlace) -> _Geometry:
    proj = LocalProjection.about(place.anchor)
    if isinstance(place, Circle):
        return _Geometry(proj, Point(0.0, 0.0).buffer(place.radius_m, 64), (0.0, 0.0, place.radius_m))
    return _Geometry(proj, place.to_local(proj), None)


def _to_h3shape(geom: BaseGeometry, proj: LocalProjection) -> h3.LatLngPoly:
    poly = geom if isinstance(geom, Polygon) else geom.convex_hull
    ring = [(lat, lon) for lon, lat in (proj.inverse(x, y) for x, y in poly.exterior.coords)]
    return h3.LatLngPoly(ring)


def cells_for(place: CrimePlace) -> list[int]:
    """Every index cell that can hold a fix whose confidence circle touches the place (all levels)."""
    geo = _geometry(place)
    cells: set[int] = {WIDE_CELL}
    for resolution, bound in LEVELS:
        # 1 m for the projection's own error at city scale; the polygon is drawn around the true curve
        # (circumscribed), so no cell touching the curve between two vertices is missed.
        if geo.circle is not None:
            grown = Point(0.0, 0.0).buffer((geo.circle[2] + bound + 1.0) / math.cos(math.pi / 32), 8)
        else:
            grown = geo.local.buffer((bound + 1.0) / math.cos(math.pi / 32), 8)
        for c in h3.h3shape_to_cells_experimental(_to_h3shape(grown, geo.proj), resolution, contain="overlap"):
            cells.add(h3.str_to_int(c))
    return sorted(cells)


@dataclass(frozen=True, slots=True)
class Fixes:
    """Candidate fixes as columns (person, time, lat, lon, accuracy)."""

    person_id: np.ndarray
    time: list[datetime]
    lat: np.ndarray
    lon: np.ndarray
    accuracy_m: np.ndarray


def candidate_fixes(session: Session, place: CrimePlace, start: datetime, end: datetime) -> Fixes:
    """Fixes in ``[start, end)`` from the cells near the place, read from the index alone."""
    cells = cells_for(place)
    stmt = (select(PositionCell.person_id, PositionCell.time, PositionCell.lat, PositionCell.lon,
                   PositionCell.accuracy_m)
            .where(PositionCell.cell.in_(bindparam("cells", expanding=True)),
                   PositionCell.time >= start, PositionCell.time < end))
    rows = session.execute(stmt, {"cells": cells}).all()
    if not rows:
        empty = np.zeros(0)
        return Fixes(empty.astype(np.int64), [], empty, empty, empty)
    person, times, lat, lon, acc = zip(*rows, strict=True)
    return Fixes(np.asarray(person, dtype=np.int64), list(times), np.asarray(lat, dtype=np.float64),
                 np.asarray(lon, dtype=np.float64), np.asarray(acc, dtype=np.float64))


def near_people(place: CrimePlace, fixes: Fixes) -> dict[int, tuple[Proximity, int, float, int, datetime, datetime]]:
    """Per person: (proximity, index of the closest fix, its distance, near fixes, first, last near)."""
    if len(fixes.person_id) == 0:
        return {}
    geo = _geometry(place)
    x, y = geo.proj.forward_many(fixes.lon, fixes.lat)
    acc = fixes.accuracy_m
    if geo.circle is not None:
        cx, cy, r = geo.circle
        d = np.hypot(x - cx, y - cy)
        within = d + acc <= r
        possibly = d - acc <= r
        closeness = d
    else:
        points = shapely.points(x, y)
        outside = shapely.distance(geo.local, points)
        to_edge = shapely.distance(geo.local.boundary, points)
        inside = outside == 0.0
        within = inside & (to_edge >= acc)
        possibly = outside <= acc
        closeness = outside
    out: dict[int, tuple[Proximity, int, float, int, datetime, datetime]] = {}
    idx = np.nonzero(possibly)[0]
    by_person: dict[int, list[int]] = defaultdict(list)
    for i in idx:
        by_person[int(fixes.person_id[i])].append(int(i))
    for pid, items in by_person.items():
        arr = np.asarray(items)
        best = int(arr[np.lexsort((acc[arr], closeness[arr]))[0]])
        prox = Proximity.WITHIN if bool(within[arr].any()) else Proximity.POSSIBLY_WITHIN
        times = [fixes.time[i] for i in items]
        out[pid] = (prox, best, float(closeness[best]), len(items), min(times), max(times))
    return out


@dataclass(frozen=True, slots=True)
class NearSummary:
    """What the fixes near the place say about one person."""

    proximity: Proximity
    closest_m: float
    closest_time: datetime
    closest_accuracy_m: float
    near_fixes: int
    first_near: datetime
    last_near: datetime


def _summaries(fixes: Fixes, near: dict[int, tuple[Proximity, int, float, int, datetime, datetime]]
               ) -> dict[int, NearSummary]:
    return {pid: NearSummary(prox, dist, _utc(fixes.time[best]), float(fixes.accuracy_m[best]), count,
                             _utc(first), _utc(last))
            for pid, (prox, best, dist, count, first, last) in near.items()}


def find_near(session: Session, place: CrimePlace, start: datetime, end: datetime) -> dict[int, NearSummary]:
    """Per person with a fix touching the place in ``[start, end)``: how near, when, how accurate.

    For a circle the database classifies the fixes and returns one row per person (the closest fix and the
    counts), so that a dense city centre costs an index range scan, not millions of rows; the distance is the
    same local-plane distance :func:`near_people` uses. A polygon's fixes are classified here.
    """
    if not isinstance(place, Circle):
        fixes = candidate_fixes(session, place, start, end)
        return _summaries(fixes, near_people(place, fixes))
    proj = LocalProjection.about(place.anchor)
    c = PositionCell
    dx = (c.lon - proj.lon0) * proj.kx
    dy = (c.lat - proj.lat0) * proj.ky
    d2 = dx * dx + dy * dy
    r = place.radius_m
    near = d2 <= (c.accuracy_m + r) * (c.accuracy_m + r)
    within = and_(c.accuracy_m <= r, d2 <= (r - c.accuracy_m) * (r - c.accuracy_m))
    where = (c.cell.in_(bindparam("cells", expanding=True)), c.time >= start, c.time < end, near)
    agg = (select(c.person_id.label("pid"), func.count().label("n"), func.min(c.time).label("first"),
                  func.max(c.time).label("last"), func.max(case((within, 1), else_=0)).label("within"),
                  func.min(d2).label("best"))
           .where(*where).group_by(c.person_id).subquery())
    stmt = (select(agg.c.pid, agg.c.n, agg.c.first, agg.c.last, agg.c.within, agg.c.best, c.time, c.accuracy_m)
            .join(agg, and_(agg.c.pid == c.person_id, d2 == agg.c.best)).where(*where))
    out: dict[int, NearSummary] = {}
    for pid, n, first, last, is_within, best, time, acc in session.execute(stmt, {"cells": cells_for(place)}):
        key = int(pid)
        prior = out.get(key)
        # Ties on distance: the most accurate fix, then the earliest.
        if prior is not None and (prior.closest_accuracy_m, prior.closest_time) <= (float(acc), _utc(time)):
            continue
        out[key] = NearSummary(Proximity.WITHIN if is_within else Proximity.POSSIBLY_WITHIN,
                               math.sqrt(max(float(best), 0.0)), _utc(time), float(acc), int(n), _utc(first),
                               _utc(last))
    return out


def _greatest(session: Session) -> Any:
    return func.greatest if session.get_bind().dialect.name == "postgresql" else func.max


def people_with_data(session: Session, place: CrimePlace, start: datetime, end: datetime
                     ) -> dict[int, tuple[int, datetime, datetime, float]]:
    """Per person with at least one fix in ``[start, end)``: (fixes, first, last, lower bound of distance)."""
    geo = _geometry(place)
    minx, miny, maxx, maxy = geo.local.bounds
    west, south = geo.proj.inverse(minx, miny)
    east, north = geo.proj.inverse(maxx, maxy)
    kx, ky = geo.proj.kx, geo.proj.ky
    greatest = _greatest(session)
    h = TrailHour
    gx = greatest(h.min_lon - east, west - h.max_lon, 0.0) * kx
    gy = greatest(h.min_lat - north, south - h.max_lat, 0.0) * ky
    overlapping = and_(h.hour > start - timedelta(hours=1), h.hour < end)
    # An hour counts when it lies inside the window or one of its fixes does; an hour that straddles the whole
    # window with fixes only on either side of it is settled below from the fixes themselves.
    certain = or_(and_(h.hour >= start, h.hour <= end - timedelta(hours=1)),
                  and_(h.first_time >= start, h.first_time < end),
                  and_(h.last_time >= start, h.last_time < end))
    rows = session.execute(
        select(h.person_id, func.sum(h.fixes), func.min(h.first_time), func.max(h.last_time),
               func.min(gx * gx + gy * gy), func.max(h.max_accuracy_m),
               func.max(case((certain, 1), else_=0)))
        .where(overlapping).group_by(h.person_id)
    ).all()
    out: dict[int, tuple[int, datetime, datetime, float]] = {}
    unsure: list[int] = []
    for pid, fixes, first, last, d2, max_acc, has_certain in rows:
        first = _utc(first)
        last = _utc(last)
        # distance between bounding boxes (the place's contains the place) less the coarsest accuracy
        bound = max(0.0, math.sqrt(max(float(d2), 0.0)) - float(max_acc))
        out[int(pid)] = (int(fixes), first, last, bound)
        if not has_certain:
            unsure.append(int(pid))
    if unsure:
        found = set(session.execute(
            select(DeviceReportRecord.person_id).where(
                DeviceReportRecord.person_id.in_(unsure), DeviceReportRecord.time >= start,
                DeviceReportRecord.time < end, DeviceReportRecord.lat.is_not(None)).distinct()).scalars())
        for pid in unsure:
            if pid not in found:
                del out[pid]
    return out


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def monitored_people(session: Session, start: datetime, end: datetime) -> dict[int, str]:
    """People with a device fitted at some moment of ``[start, end)``."""
    rows = session.execute(
        select(Person.id, Person.code).join(Assignment, Assignment.person_id == Person.id)
        .where(Assignment.fitted_at < end, or_(Assignment.removed_at.is_(None), Assignment.removed_at > start))
        .distinct()).all()
    return {int(i): str(c) for i, c in rows}


def check_may_ask(actor: Actor, case_reference: str, reason: str) -> None:
    """Raise :class:`MatchRefused` unless a police liaison asks with a case reference and a reason."""
    if actor.role != Role.POLICE_LIAISON.value:
        raise MatchRefused(f"role {actor.role} may not run crime-scene queries (needs police_liaison)")
    if len(case_reference.strip()) < 3:
        raise MatchRefused("a crime-scene query needs a case reference")
    if len(reason.strip()) < 10:
        raise MatchRefused("a crime-scene query needs a reason (at least 10 characters)")


def record_refusal(session: Session, actor: Actor, why: str, *, case_reference: str = "", reason: str = "",
                   place: dict[str, Any] | None = None) -> AuditEntry:
    """Audit a crime-scene question that was refused (wrong role, no case reference or reason, malformed).

    A refused question is still a request to see where people were: who asked, for what, and why it was
    refused belong in the trail as much as an answered one. The caller commits this in its own transaction,
    apart from the refused request (which is rolled back).
    """
    return record(session, actor, "crime_match_refused", "crime_scene_query", case_reference.strip()[:64],
                  purpose=reason.strip()[:300], detail={"why": why[:500], "place": place or {}})


def _append_disclosures(session: Session, actor: Actor, head: AuditEntry, query: CrimeSceneQuery,
                        people: list[NearPerson], at: datetime) -> None:
    """One audit entry per person placed near the scene, chained after the query's entry in one flush.

    :func:`kuzet.audit.record` for the query's entry took the chain's lock for this transaction (PostgreSQL
    advisory lock; SQLite's single writer), so the head cannot move while these are appended: the entries
    are exactly what ``record`` would write one by one, without a round trip each.
    """
    prev = head.hash
    entries = []
    for p in people:
        entry = AuditEntry(at=at, user_id=actor.user_id, username=actor.username, role=actor.role,
                           action="crime_match_disclosure", object_type="person", object_id=str(p.person_id),
                           subject_person_id=p.person_id, purpose=query.reason[:300],
                           detail={"case_reference": query.case_reference, "query_audit_id": head.id,
                                   "proximity": p.proximity.value, "algorithm_version": ALGORITHM_VERSION},
                           prev_hash=prev)
        entry.hash = entry_hash(prev, entry)
        prev = entry.hash
        entries.append(entry)
    session.add_all(entries)
    session.flush()


def match_crime_scene(session: Session, actor: Actor, query: CrimeSceneQuery, *,
                      now: datetime | None = None) -> MatchResult:
    """Answer a crime-scene question and write it, with its answer, to the audit trail (same transaction)."""
    check_may_ask(actor, query.case_reference, query.reason)
    run_at = (now or datetime.now(UTC)).astimezone(UTC)
    near = find_near(session, query.place, query.start, query.end)
    with_data = people_with_data(session, query.place, query.start, query.end)
    monitored = monitored_people(session, query.start, query.end)
    codes = dict(monitored)
    unknown = sorted((set(near) | set(with_data)) - set(codes))  # data without a fitted device: rare
    for i in range(0, len(unknown), 500):
        codes.update({int(pid): str(code) for pid, code in session.execute(
            select(Person.id, Person.code).where(Person.id.in_(unknown[i : i + 500])))})
    within: list[NearPerson] = []
    possibly: list[NearPerson] = []
    for pid, n in near.items():
        entry = NearPerson(pid, codes.get(pid, str(pid)), n.proximity, n.closest_m, n.closest_time,
                           n.closest_accuracy_m, n.near_fixes, n.first_near, n.last_near)
        (within if n.proximity is Proximity.WITHIN else possibly).append(entry)
    within.sort(key=lambda p: (p.closest_m, p.person_code))
    possibly.sort(key=lambda p: (p.closest_m, p.person_code))
    elsewhere = sorted((ElsewherePerson(pid, codes.get(pid, str(pid)), n, first, last, bound)
                        for pid, (n, first, last, bound) in with_data.items() if pid not in near),
                       key=lambda p: p.person_code)
    no_data = sorted(((pid, code) for pid, code in monitored.items() if pid not in near and pid not in with_data),
                     key=lambda p: p[1])
    result = MatchResult(query, ALGORITHM_VERSION, run_at, within, possibly, elsewhere, no_data,
)
    audit = record(session, actor, "crime_match", "crime_scene_query", query.case_reference[:64],
                   purpose=query.reason[:300],
                   detail={"algorithm_version": ALGORITHM_VERSION, "query": query.to_json(),
                           "within": [p.to_json() for p in within],
                           "possibly_within": [p.to_json() for p in possibly],
                           "elsewhere": [p.person_code for p in elsewhere],
                           "no_data": [code for _, code in no_data]}, at=run_at)
    _append_disclosures(session, actor, audit, query, within + possibly, run_at)
    return MatchResult(query, ALGORITHM_VERSION, run_at, within, possibly, elsewhere, no_data, audit.id,
                       result.stats)
