"""Public holidays of Kazakhstan as data: the days off the working-day calculator skips.

Sources: Law "On holidays in the Republic of Kazakhstan" (13 December 2001) with its amendments, and the
Labour Code (2015) art. 85: when a public holiday falls on a Saturday or Sunday the day off moves to the next
working day, except for the religious holidays (Orthodox Christmas, Kurban ait). Since 2022 Republic Day
(25 October) is a holiday again and Independence Day is 16 December only. The first day of Kurban ait moves
with the lunar calendar: its dates are announced each year and are listed here per year. The government also
moves working days by decree (e.g. a Saturday worked so that a bridge day is off); those transfers are listed
per year in :data:`TRANSFERS`.

This module is data only; :mod:`kuzet.casework.workdays` does the arithmetic. Add a year's Kurban ait date
and decree transfers when they are published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class FixedHoliday:
    """A holiday on the same day every year, in force for the years ``since``..``until`` (inclusive)."""

    month: int
    day: int
    name_ru: str
    name_kk: str
    carries_over: bool = True
    since: int = 1900
    until: int = 9999


FIXED_HOLIDAYS: tuple[FixedHoliday, ...] = (
    FixedHoliday(1, 1, "Новый год", "Жаңа жыл"),
    FixedHoliday(1, 2, "Новый год", "Жаңа жыл"),
    FixedHoliday(1, 7, "Православное Рождество", "Православиелік Рождество", carries_over=False),
    FixedHoliday(3, 8, "Международный женский день", "Халықаралық әйелдер күні"),
    FixedHoliday(3, 21, "Наурыз мейрамы", "Наурыз мейрамы"),
    FixedHoliday(3, 22, "Наурыз мейрамы", "Наурыз мейрамы"),
    FixedHoliday(3, 23, "Наурыз мейрамы", "Наурыз мейрамы"),
    FixedHoliday(5, 1, "Праздник единства народа Казахстана", "Қазақстан халқының бірлігі мерекесі"),
    FixedHoliday(5, 7, "День защитника Отечества", "Отан қорғаушы күні"),
    FixedHoliday(5, 9, "День Победы", "Жеңіс күні"),
    FixedHoliday(7, 6, "День столицы", "Астана күні"),
    FixedHoliday(8, 30, "День Конституции", "Конституция күні"),
    FixedHoliday(10, 25, "День Республики", "Республика күні", since=2022),
    FixedHoliday(12, 1, "День Первого Президента", "Тұңғыш Президент күні", until=2021),
    FixedHoliday(12, 16, "День Независимости", "Тәуелсіздік күні"),
    FixedHoliday(12, 17, "День Независимости", "Тәуелсіздік күні", until=2021),
)

#: First day of Kurban ait (a day off that does not carry over).
KURBAN_AIT: dict[int, date] = {
    2023: date(2023, 6, 28),
    2024: date(2024, 6, 16),
    2025: date(2025, 6, 6),
    2026: date(2026, 5, 27),
    2027: date(2027, 5, 16),
    2028: date(2028, 5, 5),
}


@dataclass(frozen=True, slots=True)
class Transfer:
    """A government decree moving a day off: ``day_off`` becomes a day off, ``working_day`` is worked."""

    day_off: date
    working_day: date | None


#: Decree transfers per year; empty until an administrator enters a year's decree.
TRANSFERS: dict[int, tuple[Transfer, ...]] = {}
