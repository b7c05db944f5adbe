"""Working days in Kazakhstan: Monday to Friday, minus public holidays and the days off they carry over to.

Used for the registration deadline (a released person is registered within three working days). Pure
arithmetic over :mod:`kuzet.casework.holidays`; it never reads a clock or the database.

>>> from datetime import date
>>> add_working_days(date(2026, 12, 29), 3)   # Tue 29 Dec -> 30, 31 Dec, (1-2 Jan off, 2 Jan 2027 a Saturday
...                                            # carries over to Mon 4 Jan) -> Tue 5 Jan
datetime.date(2027, 1, 5)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from . import holidays as data


@dataclass(frozen=True)
class HolidayCalendar:
    """Days off of Kazakhstan, built from holiday data (the module's tables by default)."""

    fixed: tuple[data.FixedHoliday, ...] = data.FIXED_HOLIDAYS
    kurban_ait: Mapping[int, date] = field(default_factory=lambda: dict(data.KURBAN_AIT))
    transfers: Mapping[int, tuple[data.Transfer, ...]] = field(default_factory=lambda: dict(data.TRANSFERS))

    def __hash__(self) -> int:
        return id(self)

    def days_off(self, year: int) -> frozenset[date]:
        """Every public holiday and carried-over day off in ``year`` (weekends not included)."""
        return _days_off(self, year)

    def worked_weekend_days(self, year: int) -> frozenset[date]:
        return frozenset(t.working_day for t in self.transfers.get(year, ()) if t.working_day is not None)

    def is_working_day(self, day: date) -> bool:
        if day in self.worked_weekend_days(day.year):
            return True
        if day.weekday() >= 5:
            return False
        return day not in self.days_off(day.year)


@lru_cache(maxsize=64)
def _days_off(calendar: HolidayCalendar, year: int) -> frozenset[date]:
    holidays: list[tuple[date, bool]] = [
        (date(year, h.month, h.day), h.carries_over) for h in calendar.fixed if h.since <= year <= h.until]
    if year in calendar.kurban_ait:
        holidays.append((calendar.kurban_ait[year], False))
    # Carry-overs come from last year's end too (a holiday on Sat 31 Dec would move into January).
    previous = [(date(year - 1, h.month, h.day), h.carries_over) for h in calendar.fixed
                if h.since <= year - 1 <= h.until and h.month == 12]
    off: set[date] = {d for d, _ in holidays}
    for day, carries in sorted(previous + holidays):
        if carries and day.weekday() >= 5:
            moved = day + timedelta(days=1)
            taken = off | {d for d, _ in previous}
            while moved.weekday() >= 5 or moved in taken:
                moved += timedelta(days=1)
            off.add(moved)
    off |= {t.day_off for t in calendar.transfers.get(year, ())}
    return frozenset(d for d in off if d.year == year)


KAZAKHSTAN = HolidayCalendar()


def is_working_day(day: date, calendar: HolidayCalendar = KAZAKHSTAN) -> bool:
    return calendar.is_working_day(day)


def add_working_days(start: date, days: int, calendar: HolidayCalendar = KAZAKHSTAN) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself never counts)."""
    if days < 0:
        raise ValueError(f"days must be zero or more, got {days}")
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def working_days_between(start: date, end: date, calendar: HolidayCalendar = KAZAKHSTAN) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not after ``start``)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            count += 1
    return count


def working_days(days: Iterable[date], calendar: HolidayCalendar = KAZAKHSTAN) -> list[date]:
    return [d for d in days if calendar.is_working_day(d)]
