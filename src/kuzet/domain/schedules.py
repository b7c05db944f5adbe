"""Weekly schedules in local time, with dated exceptions.

A window is named by the day it *starts*; a window whose end is not after its start runs past midnight
into the next day (22:00-06:00 on Monday covers Monday 22:00 to Tuesday 06:00). Wall-clock times are
turned into UTC with :mod:`zoneinfo`, so daylight-saving changes (none in Kazakhstan since 2024, but
elsewhere) are handled by the time-zone database, never by fixed offsets.

>>> from datetime import datetime, UTC
>>> s = Schedule.from_json([{"days": ["mon"], "start": "22:00", "end": "06:00"}], "Asia/Almaty")
>>> s.is_active(datetime(2026, 11, 2, 18, 0, tzinfo=UTC))   # Monday 23:00 in Almaty (UTC+5)
True
>>> s.is_active(datetime(2026, 11, 2, 16, 0, tzinfo=UTC))   # Monday 21:00
False
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ScheduleError
from .timeutil import format_utc, parse_utc

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}", field="timezone") from None


def _parse_hhmm(value: Any, field: str) -> time:
    if not isinstance(value, str):
        raise ScheduleError(f"expected HH:MM, got {value!r}", field=field)
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        if value == "24:00":
            return time(0, 0)
        raise ScheduleError(f"expected HH:MM, got {value!r}", field=field) from None
    return parsed


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """A recurring window, on the named weekdays (0 = Monday), from ``start`` to ``end`` local time."""

    days: frozenset[int]
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "days": [DAY_NAMES[d] for d in sorted(self.days)],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }

    @classmethod
    def from_json(cls, data: Any) -> WeeklyWindow:
        if not isinstance(data, dict):
            raise ScheduleError("a window must be an object with days, start and end")
        days_raw = data.get("days")
        if not isinstance(days_raw, list) or not days_raw:
            raise ScheduleError("must be a non-empty list of day names", field="days")
        days: set[int] = set()
        for d in days_raw:
            if not isinstance(d, str) or d.lower()[:3] not in DAY_NAMES:
                raise ScheduleError(f"unknown day {d!r} (mon..sun)", field="days")
            days.add(DAY_NAMES.index(d.lower()[:3]))
        return cls(frozenset(days), _parse_hhmm(data.get("start"), "start"), _parse_hhmm(data.get("end"), "end"))


class ExceptionKind(StrEnum):
    """``absence``: the rule is lifted (an authorised absence, a holiday); ``extra``: it also applies."""

    ABSENCE = "absence"
    EXTRA = "extra"


@dataclass(frozen=True, slots=True)
class ScheduleException:
    start: datetime
    end: datetime
    kind: ExceptionKind = ExceptionKind.ABSENCE
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ScheduleError("exception times must carry a time zone", field="start")
        if self.end <= self.start:
            raise ScheduleError("an exception must end after it starts", field="end")

    def to_json(self) -> dict[str, Any]:
        return {"start": format_utc(self.start), "end": format_utc(self.end), "kind": self.kind.value,
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any) -> ScheduleException:
        if not isinstance(data, dict):
            raise ScheduleError("an exception must be an object")
        try:
            kind = ExceptionKind(data.get("kind", "absence"))
        except ValueError:
            raise ScheduleError(f"unknown kind {data.get('kind')!r}", field="kind") from None
        return cls(parse_utc(data.get("start"), field="start"), parse_utc(data.get("end"), field="end"),  # type: ignore[arg-type]
                   kind, str(data.get("reason", "")))


Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a rule applies. ``windows`` empty and no exceptions means *never*; use ``None`` for always."""

    windows: tuple[WeeklyWindow, ...]
    timezone: str
    exceptions: tuple[ScheduleException, ...] = ()

    def __post_init__(self) -> None:
        zone(self.timezone)

    @classmethod
    def from_json(cls, data: Any, timezone: str, exceptions: Iterable[ScheduleException] = ()) -> Schedule:
        if not isinstance(data, list):
            raise ScheduleError("a schedule must be a list of windows or null")
        windows = []
        for i, w in enumerate(data):
            try:
                windows.append(WeeklyWindow.from_json(w))
            except ScheduleError as exc:
                raise exc.within(f"schedule[{i}]") from None
        return cls(tuple(windows), timezone, tuple(exceptions))

    def to_json(self) -> list[dict[str, Any]]:
        return [w.to_json() for w in self.windows]

    def with_exceptions(self, exceptions: Iterable[ScheduleException]) -> Schedule:
        return Schedule(self.windows, self.timezone, self.exceptions + tuple(exceptions))

    def _weekly_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        tz = zone(self.timezone)
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        day: date = first
        while day <= last:
            wd = day.weekday()
            for w in self.windows:
                if wd not in w.days:
                    continue
                s_local = datetime.combine(day, w.start, tzinfo=tz)
                e_day = day + timedelta(days=1) if w.crosses_midnight else day
                e_local = datetime.combine(e_day, w.end, tzinfo=tz)
                s, e = s_local.astimezone(UTC), e_local.astimezone(UTC)
                if e > start and s < end:
                    yield (s, e)
            day += timedelta(days=1)

    def active_intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """The merged UTC intervals, clipped to ``[start, end)``, during which the rule applies."""
        spans = list(self._weekly_intervals(start, end))
        spans += [(x.start, x.end) for x in self.exceptions if x.kind is ExceptionKind.EXTRA]
        merged = _merge(spans)
        absences = _merge([(x.start, x.end) for x in self.exceptions if x.kind is ExceptionKind.ABSENCE])
        result = _subtract(merged, absences)
        return [(max(s, start), min(e, end)) for s, e in result if e > start and s < end]

    def is_active(self, t: datetime) -> bool:
        return bool(self.active_intervals(t, t + timedelta(microseconds=1)))

    def interval_at(self, t: datetime) -> Interval | None:
        """The whole active interval containing ``t`` (unclipped, within a week either side), or None."""
        for s, e in self.active_intervals(t - timedelta(days=8), t + timedelta(days=8)):
            if s <= t < e:
                return (s, e)
        return None

    def next_change(self, t: datetime, horizon: timedelta = timedelta(days=8)) -> datetime | None:
        """The first instant after ``t`` at which activity changes, within ``horizon``."""
        for s, e in self.active_intervals(t - timedelta(days=1), t + horizon):
            if s > t:
                return s
            if e > t:
                return e
        return None


def _merge(spans: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _subtract(spans: list[Interval], holes: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    for s, e in spans:
        pieces = [(s, e)]
        for hs, he in holes:
            nxt: list[Interval] = []
            for ps, pe in pieces:
                if he <= ps or hs >= pe:
                    nxt.append((ps, pe))
                    continue
                if hs > ps:
                    nxt.append((ps, hs))
                if he < pe:
                    nxt.append((he, pe))
            pieces = nxt
        result.extend(pieces)
    return result
