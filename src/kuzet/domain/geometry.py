"""Zone shapes in WGS 84 and their metric form for distance decisions.

Shapes are stored as the exchange format writes them (GeoJSON order: longitude, latitude). Decisions are
made in metres, in a local azimuthal-equidistant-like tangent plane centred on the zone: at city scale
(tens of kilometres) an equirectangular projection about the zone's own centre is accurate to well under
a metre, and it is cheap enough to vectorise over millions of fixes.

>>> c = Circle(centre=(76.8897, 43.2389), radius_m=60)
>>> proj = LocalProjection.about(c.anchor)
>>> round(c.to_local(proj).area)  # pi * 60**2 = 11310, less the polygon's chords
11305
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from .errors import ShapeError

EARTH_RADIUS_M = 6_371_008.8
LonLat: TypeAlias = tuple[float, float]
Ring: TypeAlias = tuple[LonLat, ...]


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """A tangent-plane projection about ``(lon0, lat0)``: x east and y north, in metres."""

    lon0: float
    lat0: float

    @classmethod
    def about(cls, point: LonLat) -> LocalProjection:
        return cls(point[0], point[1])

    @property
    def kx(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def ky(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M

    def forward(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky)

    def forward_many(
        self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky)

    def inverse(self, x: float, y: float) -> LonLat:
        return (self.lon0 + x / self.kx, self.lat0 + y / self.ky)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres.

    >>> round(haversine_m(76.0, 43.0, 76.0, 43.001))
    111
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _check_lonlat(value: Any, where: str) -> LonLat:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise ShapeError(f"expected [longitude, latitude], got {value!r}", field=where)
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and -180 <= lon <= 180 and math.isfinite(lat) and -90 <= lat <= 90):
        raise ShapeError(f"coordinates out of range: {value!r}", field=where)
    return (lon, lat)


def _check_ring(value: Any, where: str) -> Ring:
    if not isinstance(value, list | tuple) or len(value) < 4:
        raise ShapeError("a linear ring needs at least 4 positions", field=where)
    ring = tuple(_check_lonlat(p, f"{where}[{i}]") for i, p in enumerate(value))
    if ring[0] != ring[-1]:
        raise ShapeError("a linear ring must end where it starts", field=where)
    return ring


def _check_polygon(value: Any, where: str) -> tuple[Ring, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ShapeError("a polygon needs at least one ring", field=where)
    return tuple(_check_ring(r, f"{where}[{i}]") for i, r in enumerate(value))


def _require_valid(geom: BaseGeometry, where: str) -> None:
    if geom.is_empty or not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise ShapeError(f"invalid geometry: {reason}", field=where)


@dataclass(frozen=True, slots=True)
class Circle:
    centre: LonLat
    radius_m: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.radius_m) and self.radius_m > 0):
            raise ShapeError(f"radius must be positive, got {self.radius_m}", field="radius_m")

    @property
    def anchor(self) -> LonLat:
        return self.centre

    def to_local(self, proj: LocalProjection) -> BaseGeometry:
        x, y = proj.forward(*self.centre)
        return Point(x, y).buffer(self.radius_m, quad_segs=32)

    def to_geojson(self) -> dict[str, Any]:
        return {"type": "Circle", "coordinates": list(self.centre), "radius_m": self.radius_m}


@dataclass(frozen=True, slots=True)
class PolygonShape:
    rings: tuple[Ring, ...]

    def __post_init__(self) -> None:
        _require_valid(Polygon(self.rings[0], self.rings[1:]), "coordinates")

    @property
    def anchor(self) -> LonLat:
        c = Polygon(self.rings[0]).centroid
        return (c.x, c.y)

    def to_local(self, proj: LocalProjection) -> BaseGeometry:
        rings = [[proj.forward(*p) for p in ring] for ring in self.rings]
        return Polygon(rings[0], rings[1:])

    def to_geojson(self) -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in self.rings]}


@dataclass(frozen=True, slots=True)
class MultiPolygonShape:
    polygons: tuple[tuple[Ring, ...], ...]

    def __post_init__(self) -> None:
        _require_valid(MultiPolygon([(p[0], p[1:]) for p in self.polygons]), "coordinates")

    @property
    def anchor(self) -> LonLat:
        c = MultiPolygon([(p[0], p[1:]) for p in self.polygons]).centroid
        return (c.x, c.y)

    def to_local(self, proj: LocalProjection) -> BaseGeometry:
        polys = []
        for rings in self.polygons:
            local = [[proj.forward(*p) for p in ring] for ring in rings]
            polys.append(Polygon(local[0], local[1:]))
        return MultiPolygon(polys)

    def to_geojson(self) -> dict[str, Any]:
        return {
            "type": "MultiPolygon",
            "coordinates": [[[list(p) for p in r] for r in poly] for poly in self.polygons],
        }


@dataclass(frozen=True, slots=True)
class Corridor:
    """A route of given width: everything within ``width_m / 2`` of the line."""

    line: tuple[LonLat, ...]
    width_m: float

    def __post_init__(self) -> None:
        if len(self.line) < 2:
            raise ShapeError("a corridor needs at least two positions", field="coordinates")
        if not (math.isfinite(self.width_m) and self.width_m > 0):
            raise ShapeError(f"width must be positive, got {self.width_m}", field="width_m")

    @property
    def anchor(self) -> LonLat:
        c = LineString(self.line).centroid
        return (c.x, c.y)

    def to_local(self, proj: LocalProjection) -> BaseGeometry:
        return LineString([proj.forward(*p) for p in self.line]).buffer(self.width_m / 2, quad_segs=16)

    def to_geojson(self) -> dict[str, Any]:
        return {"type": "Corridor", "coordinates": [list(p) for p in self.line], "width_m": self.width_m}


Shape: TypeAlias = Circle | PolygonShape | MultiPolygonShape | Corridor


#: Zones are decided in a local plane (decision 002); beyond this extent its error would matter.
MAX_ZONE_EXTENT_M = 50_000.0


def shape_from_geojson(data: Any) -> Shape:
    """Parse a zone shape from the exchange format; raise :class:`ShapeError` naming the field.

    >>> shape_from_geojson({"type": "Circle", "coordinates": [76.9, 43.2], "radius_m": 50}).radius_m
    50.0
    """
    shape = _parse_shape(data)
    proj = LocalProjection.about(shape.anchor)
    minx, miny, maxx, maxy = shape.to_local(proj).bounds
    if max(maxx - minx, maxy - miny) > MAX_ZONE_EXTENT_M:
        raise ShapeError(f"zone is {max(maxx - minx, maxy - miny) / 1000:.0f} km across; split zones larger than "
                         f"{MAX_ZONE_EXTENT_M / 1000:.0f} km", field="coordinates")
    return shape


def _parse_shape(data: Any) -> Shape:
    if not isinstance(data, dict):
        raise ShapeError("a shape must be a JSON object")
    kind = data.get("type")
    coords = data.get("coordinates")
    if kind == "Circle":
        return Circle(_check_lonlat(coords, "coordinates"), _number(data, "radius_m"))
    if kind == "Polygon":
        return PolygonShape(_check_polygon(coords, "coordinates"))
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise ShapeError("a multipolygon needs at least one polygon", field="coordinates")
        return MultiPolygonShape(tuple(_check_polygon(p, f"coordinates[{i}]") for i, p in enumerate(coords)))
    if kind == "Corridor":
        if not isinstance(coords, list):
            raise ShapeError("a corridor needs a list of positions", field="coordinates")
        line = tuple(_check_lonlat(p, f"coordinates[{i}]") for i, p in enumerate(coords))
        return Corridor(line, _number(data, "width_m"))
    raise ShapeError(
        f"unknown shape type {kind!r} (Circle, Polygon, MultiPolygon or Corridor)", field="type"
    )


def _number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShapeError(f"must be a number, got {value!r}", field=name)
    return float(value)


def shape_bounds_lonlat(shape: Shape, margin_m: float = 0.0) -> tuple[float, float, float, float]:
    """Bounding box (min lon, min lat, max lon, max lat) of a shape, widened by ``margin_m``."""
    proj = LocalProjection.about(shape.anchor)
    minx, miny, maxx, maxy = shape.to_local(proj).bounds
    lo = proj.inverse(minx - margin_m, miny - margin_m)
    hi = proj.inverse(maxx + margin_m, maxy + margin_m)
    return (lo[0], lo[1], hi[0], hi[1])


def points_lonlat(shape: Shape) -> Sequence[LonLat]:
    """The shape's outline in WGS 84, for maps."""
    proj = LocalProjection.about(shape.anchor)
    geom = shape.to_local(proj)
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    return [proj.inverse(x, y) for poly in polys for x, y in poly.exterior.coords]
