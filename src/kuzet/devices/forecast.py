"""A stock forecast per region and device type from the caseload trend.

The caseload on EM is counted at the end of each of the last weeks from the assignments (people of the
region wearing a device of the type). A least-squares line through those counts projects the caseload
``horizon`` weeks ahead; the devices needed are that projection plus a reserve for repairs and turnaround;
what the region holds is what is fitted now plus what is in stock at its units. The difference is the
shortfall to order or move in, and the slope tells when the stock runs out.

Pure arithmetic in :func:`linear_trend` and :func:`project`; :func:`stock_forecast` reads the store.
Must never: count a device twice, or count written-off and lost devices as stock.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.store.models import Assignment, Device, DeviceType, Person, Region, Unit

from .states import DeviceStatus

#: Share of the projected caseload kept as reserve (devices in repair, between wearers, spares).
DEFAULT_RESERVE_SHARE = 0.10


def linear_trend(values: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``values`` against 0, 1, 2, ...

    >>> linear_trend([10, 12, 14, 16])
    (2.0, 10.0)
    """
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    if n == 1:
        return 0.0, float(values[0])
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


@dataclass(frozen=True, slots=True)
class Projection:
    slope_per_week: float
    projected: int
    reserve: int
    needed: int


def project(history: Sequence[int], horizon_weeks: int, reserve_share: float = DEFAULT_RESERVE_SHARE) -> Projection:
    """Devices needed ``horizon_weeks`` after the last count: the trend's value there, never below zero, plus
    the reserve (at least one device when the projection is not zero)."""
    slope, intercept = linear_trend([float(v) for v in history])
    at = len(history) - 1 + horizon_weeks
    projected = max(0, math.ceil(intercept + slope * at - 1e-9))
    reserve = math.ceil(projected * reserve_share) if projected else 0
    return Projection(slope, projected, reserve, projected + reserve)


@dataclass(frozen=True, slots=True)
class StockForecast:
    region_code: str
    type_code: str
    #: ``(week end, devices of the type fitted in the region)``, oldest first.
    history: tuple[tuple[datetime, int], ...]
    slope_per_week: float
    fitted_now: int
    in_stock: int
    in_repair: int
    projected: int
    reserve: int
    needed: int
    shortfall: int
    #: Weeks until the stock in hand is used up at the current growth (``None`` when not growing).
    weeks_of_stock: float | None

    def to_json(self) -> dict[str, object]:
        return {"region": self.region_code, "type": self.type_code,
                "history": [{"week_end": t.isoformat(), "fitted": n} for t, n in self.history],
                "slope_per_week": round(self.slope_per_week, 3), "fitted_now": self.fitted_now,
                "in_stock": self.in_stock, "in_repair": self.in_repair, "projected": self.projected,
                "reserve": self.reserve, "needed": self.needed, "shortfall": self.shortfall,
                "weeks_of_stock": None if self.weeks_of_stock is None else round(self.weeks_of_stock, 1)}


def stock_forecast(session: Session, *, now: datetime | None = None, weeks: int = 12, horizon_weeks: int = 8,
                   region_ids: Sequence[int] | None = None,
                   reserve_share: float = DEFAULT_RESERVE_SHARE) -> list[StockForecast]:
    """One forecast per region and active device type (types the region has never used and has no stock of
    are left out), ordered by region and the largest shortfall first."""
    at = now or datetime.now(UTC)
    week_ends = [at - timedelta(weeks=weeks - 1 - k) for k in range(weeks)]
    regions = {r.id: r for r in session.execute(select(Region)).scalars()
               if region_ids is None or r.id in region_ids}
    types = {t.id: t for t in session.execute(select(DeviceType).where(DeviceType.active.is_(True))).scalars()}

    spans: dict[tuple[int, int], list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for fitted_at, removed_at, region_id, type_id in session.execute(
            select(Assignment.fitted_at, Assignment.removed_at, Person.region_id, Device.type_id)
            .join(Person, Person.id == Assignment.person_id).join(Device, Device.id == Assignment.device_id)):
        spans[(region_id, type_id)].append((fitted_at, removed_at))

    stock: dict[tuple[int, int, str], int] = defaultdict(int)
    for region_id, type_id, status in session.execute(
            select(Unit.region_id, Device.type_id, Device.status).join(Unit, Unit.id == Device.unit_id)):
        stock[(region_id, type_id, status)] += 1

    out = []
    for region_id, region in sorted(regions.items(), key=lambda kv: kv[1].code):
        for type_id, dtype in types.items():
            history = [sum(1 for f, r in spans.get((region_id, type_id), []) if f <= t and (r is None or r > t))
                       for t in week_ends]
            in_stock = stock[(region_id, type_id, DeviceStatus.IN_STOCK.value)]
            in_repair = stock[(region_id, type_id, DeviceStatus.IN_REPAIR.value)]
            if not any(history) and not in_stock and not in_repair:
                continue
            p = project(history, horizon_weeks, reserve_share)
            fitted_now = history[-1]
            shortfall = max(0, p.needed - fitted_now - in_stock)
            weeks_of_stock = in_stock / p.slope_per_week if p.slope_per_week > 0 else None
            out.append(StockForecast(region.code, dtype.code, tuple(zip(week_ends, history, strict=True)),
                                     p.slope_per_week, fitted_now, in_stock, in_repair, p.projected, p.reserve,
                                     p.needed, shortfall, weeks_of_stock))
    return sorted(out, key=lambda f: (f.region_code, -f.shortfall, f.type_code))
