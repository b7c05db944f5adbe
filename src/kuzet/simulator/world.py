"""The simulated world: cities, people, their homes, routines, zones and the violations they commit.

Everything is drawn from a seeded :class:`random.Random`, so a seed always gives the same world.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kuzet.domain.enums import Category, ZoneKind
from kuzet.domain.geometry import Circle, Corridor, LocalProjection, MultiPolygonShape, PolygonShape, Shape
from kuzet.domain.plan import DeviceRef, MonitoringPlan, ProtectedPerson, Subject, Zone
from kuzet.domain.schedules import Schedule, WeeklyWindow

LonLat = tuple[float, float]


@dataclass(frozen=True, slots=True)
class City:
    name: str
    centre: LonLat
    radius_m: float


CITIES = (
    City("Almaty", (76.8897, 43.2389), 9000.0),
    City("Astana", (71.4491, 51.1694), 8000.0),
    City("Shymkent", (69.5901, 42.3417), 7000.0),
)
TIMEZONE = "Asia/Almaty"


@dataclass(frozen=True, slots=True)
class Incident:
    """A violation or fault the person or device will commit, in UTC."""

    #: late_return, exclusion_visit, drive_by, strap_open, battery_neglect, offline, indoor_loss, victim_approach
    kind: str
    start: datetime
    duration: timedelta


@dataclass(slots=True)
class SimPerson:
    code: str
    category: Category
    city: City
    home: LonLat
    work: LonLat
    device: str
    protocol: str
    curfew: tuple[WeeklyWindow, ...]
    zones: list[Zone] = field(default_factory=list)
    victim: ProtectedPerson | None = None
    victim_home: LonLat | None = None
    incidents: list[Incident] = field(default_factory=list)
    leave_home: time = time(8, 0)
    return_home: time = time(18, 30)
    charges_daily: bool = True

    def subject(self) -> Subject:
        return Subject(self.code, self.category, (DeviceRef(self.device, "gps_bracelet"),), tuple(self.zones),
                       (self.victim,) if self.victim else (), timedelta(seconds=1800), {"city": self.city.name})


def offset(point: LonLat, east_m: float, north_m: float) -> LonLat:
    proj = LocalProjection.about(point)
    return proj.inverse(east_m, north_m)


def random_point(rng: random.Random, city: City, spread: float = 1.0) -> LonLat:
    r = city.radius_m * spread * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    return offset(city.centre, r * math.cos(a), r * math.sin(a))


def _rect(centre: LonLat, w: float, h: float, angle: float = 0.0) -> tuple[tuple[LonLat, ...], ...]:
    proj = LocalProjection.about(centre)
    ca, sa = math.cos(angle), math.sin(angle)
    pts = []
    for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2), (-w / 2, -h / 2)):
        pts.append(proj.inverse(x * ca - y * sa, x * sa + y * ca))
    return (tuple(pts),)


def build_world(rng: random.Random, wearers: int, start: datetime, hours: float,
                violation_rate: float = 0.25) -> list[SimPerson]:
    """People spread over the three cities, each with a home curfew zone, and some with exclusion zones,
    protected persons and planned incidents inside ``[start, start + hours)``."""
    people: list[SimPerson] = []
    protocols = ("teltonika", "gt06", "osmand", "kuzet")
    for i in range(wearers):
        city = CITIES[i % len(CITIES)] if wearers < 30 else rng.choices(CITIES, weights=(5, 3, 2))[0]
        home = random_point(rng, city, 0.8)
        work_dir = rng.uniform(0, 2 * math.pi)
        work_dist = rng.uniform(1500, 6000)
        work = offset(home, work_dist * math.cos(work_dir), work_dist * math.sin(work_dir))
        start_h = rng.choice((21, 22, 22, 23))
        curfew = (WeeklyWindow(frozenset(range(5)), time(start_h, 0), time(6, 0)),
                  WeeklyWindow(frozenset({5, 6}), time(min(start_h + 1, 23), 0), time(8, 0)))
        category = rng.choice(list(Category))
        person = SimPerson(
            code=f"S-{i + 1:05d}", category=category, city=city, home=home, work=work,
            device=f"86{rng.randrange(10**12, 10**13):013d}", protocol=protocols[i % len(protocols)],
            curfew=curfew, leave_home=time(rng.randint(7, 9), rng.randint(0, 59)),
            return_home=time(rng.randint(17, 20), rng.randint(0, 59)),
        )
        person.zones.append(Zone("home", ZoneKind.INCLUSION, Circle(home, rng.choice((50.0, 60.0, 70.0, 80.0))),
                                 Schedule(curfew, TIMEZONE), timedelta(seconds=300)))
        # An exclusion zone placed near the commute, so that some drive-bys happen naturally.
        mid = ((home[0] + work[0]) / 2, (home[1] + work[1]) / 2)
        ex_centre = offset(mid, rng.uniform(-900, 900), rng.uniform(-900, 900))
        kind = rng.random()
        shape: Shape
        if kind < 0.5:
            shape = PolygonShape(_rect(ex_centre, rng.uniform(120, 250), rng.uniform(100, 200), rng.uniform(0, 1)))
        elif kind < 0.8:
            second = offset(ex_centre, 400, 150)
            shape = MultiPolygonShape((_rect(ex_centre, 150, 120), _rect(second, 130, 160)))
        else:
            shape = Corridor((ex_centre, offset(ex_centre, 350, 120)), 40.0)
        person.zones.append(Zone(f"exclusion-{i + 1}", ZoneKind.EXCLUSION, shape, None, timedelta(seconds=60)))
        if rng.random() < 0.3:
            vhome = random_point(rng, city, 0.8)
            person.victim = ProtectedPerson(f"P-{i + 1:05d}", f"PP-{i + 1:06d}", 500.0, timedelta(seconds=60))
            person.victim_home = vhome
        person.charges_daily = rng.random() > 0.05
        _plan_incidents(rng, person, start, hours, violation_rate)
        people.append(person)
    return people


def _plan_incidents(rng: random.Random, p: SimPerson, start: datetime, hours: float, rate: float) -> None:
    """About ``rate`` incidents per person per day, spread over the simulated span."""
    span = timedelta(hours=hours)
    kinds = ("late_return", "late_return", "exclusion_visit", "drive_by", "strap_open", "offline",
             "indoor_loss", "battery_neglect") + (("victim_approach",) if p.victim else ())
    for _ in range(max(1, round(hours / 24))):
        if rng.random() >= rate:
            continue
        kind = rng.choice(kinds)
        at = start + span * rng.uniform(0.05, 0.9)
        duration = timedelta(minutes=rng.uniform(15, 70))
        if kind == "offline":
            duration = timedelta(hours=rng.uniform(1, 3))
        elif kind == "indoor_loss":
            duration = timedelta(minutes=rng.uniform(20, 75))
        elif kind == "drive_by":
            duration = timedelta(seconds=rng.uniform(20, 45))
        elif kind == "late_return":
            # Out during the curfew: the evening window of the day the incident falls on.
            tz = ZoneInfo(TIMEZONE)
            local = at.astimezone(tz)
            window = p.curfew[0] if local.weekday() < 5 else p.curfew[1]
            day: date = local.date()
            window_start = datetime.combine(day, window.start, tzinfo=tz)
            at = (window_start + timedelta(minutes=rng.uniform(-30, 60))).astimezone(at.tzinfo)
            duration = timedelta(minutes=rng.uniform(20, 90))
        p.incidents.append(Incident(kind, at, duration))


def plan_of(people: list[SimPerson]) -> MonitoringPlan:
    return MonitoringPlan(TIMEZONE, tuple(p.subject() for p in people))
