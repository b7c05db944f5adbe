"""Zone geometry and schedules as the engine needs them: signed distances in metres, cached schedule windows.

The same arithmetic serves one fix and a NumPy batch of fixes, so the batched path of the engine gives
bit-identical results to the per-report path. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import bisect
import math
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


@dataclass(frozen=True)
class ZoneGeometry:
    """Signed distance to a zone's boundary: negative inside, positive outside, in metres."""

    proj: LocalProjection
    circle: tuple[float, float, float] | None  # (x, y, r) in the local plane, for circles
    geom: BaseGeometry | None
    boundary: BaseGeometry | None

    @classmethod
    def of(cls, zone: Zone) -> ZoneGeometry:
        proj = LocalProjection.about(zone.shape.anchor)
        if isinstance(zone.shape, Circle):
            x, y = proj.forward(*zone.shape.centre)
            return cls(proj, (x, y, zone.shape.radius_m), None, None)
        geom = zone.shape.to_local(proj)
        shapely.prepare(geom)
        boundary = geom.boundary
        shapely.prepare(boundary)
        return cls(proj, None, geom, boundary)

    def signed_distance(self, lon: float, lat: float) -> float:
        return float(self.signed_distances(np.array([lon]), np.array([lat]))[0])

    def signed_distances(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        x = (lon - self.proj.lon0) * self.proj.kx
        y = (lat - self.proj.lat0) * self.proj.ky
        if self.circle is not None:
            cx, cy, r = self.circle
            dx, dy = x - cx, y - cy
            result: FloatArray = np.sqrt(dx * dx + dy * dy) - r
            return result
        assert self.geom is not None and self.boundary is not None
        dist = np.asarray(shapely.distance(self.boundary, shapely.points(x, y)), dtype=np.float64)
        inside = shapely.contains_xy(self.geom, x, y)
        return np.where(inside, -dist, dist)


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
