"""Zone geometry and schedules as the engine needs them: signed distances in metres, cached schedule windows.

The same arithmetic serves one fix and a NumPy batch of fixes, so the batched path of the engine gives
bit-identical results to the per-report path. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from kuzet.domain.enums import Source
from kuzet.domain.geometry import Circle, LocalProjection
from kuzet.domain.plan import Zone
from kuzet.domain.schedules import Schedule

FloatArray = npt.NDArray[np.float64]

#: Error scale floors per source, in metres: a device that claims 2 m is never believed beyond these.
SOURCE_FLOOR_M: dict[Source, float] = {
    Source.GPS: 8.0,
    Source.WIFI: 20.0,
    Source.CELL: 150.0,
    Source.BEACON: 10.0,
    Source.NONE: 1000.0,
}
#: A fix without an accuracy estimate is assumed this poor.
UNKNOWN_ACCURACY_M = 150.0


def error_scale(source: Source, accuracy_m: float | None) -> float:
    floor = SOURCE_FLOOR_M.get(source, 50.0)
    acc = UNKNOWN_ACCURACY_M if accuracy_m is None else accuracy_m
    return acc if acc > floor else floor


#: Beyond this distance from a polygon's bounding box, the distance to the box stands in for the distance to
#: the polygon (a lower bound; every decision about such a fix is already clear-cut at that range).
FAR_M = 200.0


@dataclass(frozen=True)
class ZoneGeometry:
    """Signed distance to a zone's boundary: negative inside, positive outside, in metres.

    The one-fix and the batched functions do the same IEEE arithmetic in the same order, so they agree to
    the last bit (the batched engine path relies on it).
    """

    lon0: float
    lat0: float
    kx: float
    ky: float
    circle: tuple[float, float, float] | None  # (x, y, r) in the local plane, for circles
    geom: BaseGeometry | None
    boundary: BaseGeometry | None
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @classmethod
    def of(cls, zone: Zone) -> ZoneGeometry:
        proj = LocalProjection.about(zone.shape.anchor)
        if isinstance(zone.shape, Circle):
            x, y = proj.forward(*zone.shape.centre)
            return cls(proj.lon0, proj.lat0, proj.kx, proj.ky, (x, y, zone.shape.radius_m), None, None)
        geom = zone.shape.to_local(proj)
        shapely.prepare(geom)
        boundary = geom.boundary
        shapely.prepare(boundary)
        minx, miny, maxx, maxy = geom.bounds
        return cls(proj.lon0, proj.lat0, proj.kx, proj.ky, None, geom, boundary, (minx, miny, maxx, maxy))

    def signed_distance(self, lon: float, lat: float) -> float:
        x = (lon - self.lon0) * self.kx
        y = (lat - self.lat0) * self.ky
        if self.circle is not None:
            dx, dy = x - self.circle[0], y - self.circle[1]
            return math.sqrt(dx * dx + dy * dy) - self.circle[2]
        minx, miny, maxx, maxy = self.box
        bx = max(max(minx - x, 0.0), x - maxx)
        by = max(max(miny - y, 0.0), y - maxy)
        far = math.sqrt(bx * bx + by * by)
        if far > FAR_M:
            return far
        return float(signed_distances_many([self], np.array([lon]), np.array([lat]))[0])

    def signed_distances(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        return signed_distances_many([self] * len(lon), lon, lat)


@dataclass(frozen=True)
class ZoneTable:
    """Many zones' geometry as arrays, for the batched paths: distances for any (fix, zone) pairs in one pass."""

    lon0: FloatArray
    lat0: FloatArray
    kx: FloatArray
    ky: FloatArray
    is_circle: npt.NDArray[np.bool_]
    circle: FloatArray  # (n, 3): x, y, r in the local plane (zeros for other shapes)
    box: FloatArray  # (n, 4): the shape's bounds in the local plane (zeros for circles)
    shape: npt.NDArray[np.object_]
    edge: npt.NDArray[np.object_]

    @classmethod
    def of(cls, geoms: Sequence[ZoneGeometry]) -> ZoneTable:
        n = len(geoms)
        shape = np.empty(n, dtype=object)
        shape[:] = [g.geom for g in geoms]
        edge = np.empty(n, dtype=object)
        edge[:] = [g.boundary for g in geoms]
        return cls(np.fromiter((g.lon0 for g in geoms), np.float64, n),
                   np.fromiter((g.lat0 for g in geoms), np.float64, n),
                   np.fromiter((g.kx for g in geoms), np.float64, n),
                   np.fromiter((g.ky for g in geoms), np.float64, n),
                   np.fromiter((g.circle is not None for g in geoms), bool, n),
                   np.array([g.circle or (0.0, 0.0, 0.0) for g in geoms], dtype=np.float64).reshape(n, 3),
                   np.array([g.box for g in geoms], dtype=np.float64).reshape(n, 4), shape, edge)

    def signed_distances(self, zone: npt.NDArray[np.int64], lon: FloatArray, lat: FloatArray) -> FloatArray:
        """``zones[zone[i]].signed_distance(lon[i], lat[i])`` for every ``i``."""
        x = (lon - self.lon0[zone]) * self.kx[zone]
        y = (lat - self.lat0[zone]) * self.ky[zone]
        out = np.empty(len(zone), dtype=np.float64)
        is_circle = self.is_circle[zone]
        if is_circle.any():
            idx = np.flatnonzero(is_circle)
            c = self.circle[zone[idx]]
            dx, dy = x[idx] - c[:, 0], y[idx] - c[:, 1]
            out[idx] = np.sqrt(dx * dx + dy * dy) - c[:, 2]
        if not is_circle.all():
            idx = np.flatnonzero(~is_circle)
            boxes = self.box[zone[idx]]
            px, py = x[idx], y[idx]
            bx = np.maximum(np.maximum(boxes[:, 0] - px, 0.0), px - boxes[:, 2])
            by = np.maximum(np.maximum(boxes[:, 1] - py, 0.0), py - boxes[:, 3])
            far = np.sqrt(bx * bx + by * by)
            out[idx] = far
            near = far <= FAR_M
            if near.any():
                nidx = idx[near]
                z = zone[nidx]
                nx, ny = x[nidx], y[nidx]
                dist = np.asarray(shapely.distance(self.edge[z], shapely.points(nx, ny)), dtype=np.float64)
                inside = shapely.contains_xy(self.shape[z], nx, ny)
                out[nidx] = np.where(inside, -dist, dist)
        return out


def signed_distances_many(geoms: Sequence[ZoneGeometry], lon: FloatArray, lat: FloatArray) -> FloatArray:
    """``geoms[i].signed_distance(lon[i], lat[i])`` for every ``i``, vectorised across zones of any shape."""
    return ZoneTable.of(geoms).signed_distances(np.arange(len(geoms)), lon, lat)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance in metres (accurate to centimetres at the few-kilometre scale it decides)."""
    kx = math.radians(1.0) * 6_371_008.8 * math.cos(math.radians((lat1 + lat2) / 2))
    ky = math.radians(1.0) * 6_371_008.8
    dx, dy = (lon2 - lon1) * kx, (lat2 - lat1) * ky
    return math.sqrt(dx * dx + dy * dy)


@dataclass
class ScheduleWindows:
    """Active intervals of one schedule as float seconds, computed lazily for a sliding range."""

    schedule: Schedule | None
    lo: float = math.inf
    hi: float = -math.inf
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)

    _SPAN = 14 * 86400.0

    def _load(self, t: float) -> None:
        assert self.schedule is not None
        lo, hi = t - self._SPAN, t + self._SPAN
        a = datetime.fromtimestamp(lo - 8 * 86400, UTC)
        b = datetime.fromtimestamp(hi + 8 * 86400, UTC)
        spans = self.schedule.active_intervals(a, b)
        self.starts = [s.timestamp() for s, _ in spans]
        self.ends = [e.timestamp() for _, e in spans]
        self.lo, self.hi = lo, hi

    def window_at(self, t: float) -> tuple[float, float] | None:
        """The active interval containing ``t`` (``(-inf, inf)`` for an always-active rule) or None."""
        if self.schedule is None:
            return (-math.inf, math.inf)
        if not (self.lo <= t < self.hi):
            self._load(t)
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            return (self.starts[i], self.ends[i])
        return None

    def next_start(self, t: float) -> float | None:
        """Start of the first active interval beginning after ``t`` (within two weeks)."""
        if self.schedule is None:
            return None
        if not (self.lo <= t < self.hi - 8 * 86400):
            self._load(t)
        i = bisect.bisect_right(self.starts, t)
        return self.starts[i] if i < len(self.starts) else None


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()
