"""Catching the wrong device on the wrong person: do a fitted device's first reports come from the person's home?

The UK once had tags fitted to the wrong person for up to 50 days (DOMAIN.md section 4). After a fitting, the
device's first usable fixes are compared with the person's registered address (``Person.home_lat/home_lon``).
If some come from home the fitting is *confirmed*; if enough fixes over enough hours never come near home it is
a *mismatch* and the officer is told (the verdict is stored on the fitting record and audited), with the names
of other people whose home the fixes do match, which is what a swap of two devices looks like.

Must never: raise an alert to the monitoring centre by itself, or decide from fixes too inaccurate to tell.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import SYSTEM, Actor, record
from kuzet.domain.geometry import haversine_m
from kuzet.domain.reports import USABLE_ACCURACY_M
from kuzet.store.models import Device, DeviceReportRecord, Person

from .errors import NotFound
from .models import FittingRecord

#: A fix within this distance of home (plus its own accuracy) is "at home".
HOME_RADIUS_M = 150.0
#: How long after the fitting the first reports are looked at.
CHECK_WINDOW = timedelta(hours=48)
#: A confirmation needs this many fixes at home.
MIN_FIXES_AT_HOME = 3
#: A mismatch needs this many usable fixes, none at home, spread over at least ``MISMATCH_SPAN``
#: (or the whole window elapsed with at least ``MIN_FIXES_AT_HOME`` usable fixes).
MIN_FIXES_FOR_MISMATCH = 20
MISMATCH_SPAN = timedelta(hours=6)


class AddressVerdict(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    MISMATCH = "mismatch"
    NO_HOME_ADDRESS = "no_home_address"


@dataclass(frozen=True, slots=True)
class Fix:
    time: datetime
    lat: float
    lon: float
    accuracy_m: float


@dataclass(frozen=True, slots=True)
class AddressCheck:
    verdict: AddressVerdict
    usable_fixes: int
    fixes_at_home: int
    median_distance_m: float | None
    #: Codes of other people whose home the fixes come from (a likely swap).
    matches_other_homes: tuple[str, ...] = field(default=())

    def as_detail(self) -> dict[str, object]:
        return {"usable_fixes": self.usable_fixes, "fixes_at_home": self.fixes_at_home,
                "median_distance_m": None if self.median_distance_m is None else round(self.median_distance_m, 1),
                "matches_other_homes": list(self.matches_other_homes)}


def judge_first_fixes(home: tuple[float, float] | None, fixes: Sequence[Fix], *, fitted_at: datetime,
                      now: datetime, radius_m: float = HOME_RADIUS_M) -> AddressCheck:
    """Pure verdict from the person's home (lat, lon) and the device's usable fixes since the fitting."""
    if home is None:
        return AddressCheck(AddressVerdict.NO_HOME_ADDRESS, len(fixes), 0, None)
    usable = [f for f in fixes if f.accuracy_m <= USABLE_ACCURACY_M]
    distances = [haversine_m(f.lon, f.lat, home[1], home[0]) for f in usable]
    at_home = sum(1 for f, d in zip(usable, distances, strict=True) if d <= radius_m + f.accuracy_m)
    median = statistics.median(distances) if distances else None
    if at_home >= MIN_FIXES_AT_HOME:
        return AddressCheck(AddressVerdict.CONFIRMED, len(usable), at_home, median)
    span = (usable[-1].time - usable[0].time) if usable else timedelta(0)
    window_over = now >= fitted_at + CHECK_WINDOW
    if at_home == 0 and ((len(usable) >= MIN_FIXES_FOR_MISMATCH and span >= MISMATCH_SPAN)
                         or (window_over and len(usable) >= MIN_FIXES_AT_HOME)):
        return AddressCheck(AddressVerdict.MISMATCH, len(usable), 0, median)
    return AddressCheck(AddressVerdict.PENDING, len(usable), at_home, median)


def _fixes(session: Session, serial: str, start: datetime, end: datetime) -> list[Fix]:
    rows = session.execute(
        select(DeviceReportRecord.time, DeviceReportRecord.lat, DeviceReportRecord.lon, DeviceReportRecord.accuracy_m)
        .where(DeviceReportRecord.device == serial, DeviceReportRecord.time >= start,
               DeviceReportRecord.time <= end, DeviceReportRecord.lat.is_not(None))
        .order_by(DeviceReportRecord.time)
    ).all()
    # A fix without a stated accuracy is treated as too coarse to decide anything.
    return [Fix(t, lat, lon, acc if acc is not None else USABLE_ACCURACY_M * 2)
            for t, lat, lon, acc in rows if lat is not None and lon is not None]


def _other_homes(session: Session, person: Person, fixes: Sequence[Fix], radius_m: float) -> tuple[str, ...]:
    """People of the same region whose home most of the fixes come from."""
    usable = [f for f in fixes if f.accuracy_m <= USABLE_ACCURACY_M]
    if not usable:
        return ()
    others = session.execute(
        select(Person.code, Person.home_lat, Person.home_lon)
        .where(Person.region_id == person.region_id, Person.id != person.id, Person.home_lat.is_not(None))
    ).all()
    found = []
    for code, lat, lon in others:
        if lat is None or lon is None:
            continue
        near = sum(1 for f in usable if haversine_m(f.lon, f.lat, lon, lat) <= radius_m + f.accuracy_m)
        if near >= MIN_FIXES_AT_HOME:
            found.append(code)
    return tuple(sorted(found))


def check_fitting_address(session: Session, fitting: FittingRecord, *, now: datetime,
                          actor: Actor = SYSTEM, radius_m: float = HOME_RADIUS_M) -> AddressCheck:
    """Judge one fitting from its device's first reports; store the verdict; audit a change of verdict."""
    person = session.get(Person, fitting.person_id)
    device = session.get(Device, fitting.device_id)
    if person is None or device is None:
        raise NotFound(f"fitting {fitting.id} refers to a missing person or device", field="fitting")
    fixes = _fixes(session, device.serial, fitting.fitted_at, min(now, fitting.fitted_at + CHECK_WINDOW))
    home = None if person.home_lat is None or person.home_lon is None else (person.home_lat, person.home_lon)
    check = judge_first_fixes(home, fixes, fitted_at=fitting.fitted_at, now=now, radius_m=radius_m)
    if check.verdict is AddressVerdict.MISMATCH:
        check = AddressCheck(check.verdict, check.usable_fixes, check.fixes_at_home, check.median_distance_m,
                             _other_homes(session, person, fixes, radius_m))
    if check.verdict.value != fitting.address_check or check.as_detail() != fitting.address_detail:
        changed = check.verdict.value != fitting.address_check
        fitting.address_check = check.verdict.value
        fitting.address_checked_at = now
        fitting.address_detail = check.as_detail()
        if changed:
            record(session, actor, "device.address_check", "device", device.serial, person_id=person.id,
                   purpose="wrong-device check after fitting",
                   detail={"verdict": check.verdict.value, **check.as_detail()})
    return check


def check_pending_fittings(session: Session, *, now: datetime, actor: Actor = SYSTEM) -> list[AddressCheck]:
    """Re-judge every fitting still pending (run periodically, e.g. from ``kuzet devices check-fittings``)."""
    pending = session.execute(
        select(FittingRecord).where(FittingRecord.address_check == AddressVerdict.PENDING.value)
        .order_by(FittingRecord.id)).scalars().all()
    return [check_fitting_address(session, f, now=now, actor=actor) for f in pending]


def fitting_mismatches(session: Session) -> list[FittingRecord]:
    """Fittings whose first reports did not come from the person's home: for the officer to check at once."""
    return list(session.execute(
        select(FittingRecord).where(FittingRecord.address_check == AddressVerdict.MISMATCH.value)
        .order_by(FittingRecord.fitted_at.desc())).scalars())
