"""The pure domain: shapes, schedules and reports behave as the exchange format says."""

from __future__ import annotations

import doctest
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuzet.domain.errors import ReportError, ScheduleError, ShapeError
from kuzet.domain.geometry import LocalProjection, haversine_m, shape_from_geojson
from kuzet.domain.reports import DeviceReport
from kuzet.domain.schedules import ExceptionKind, Schedule, ScheduleException

MODULES = ["geometry", "schedules", "timeutil"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"kuzet.domain.{name}")
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NIGHT = Schedule.from_json([{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}],
                           "Asia/Almaty")


def test_a_window_named_for_friday_runs_into_saturday_morning() -> None:
    # Friday 2026-11-06 22:00 Almaty = 17:00 UTC; it lasts until Saturday 06:00 = Friday 01:00 UTC.
    assert NIGHT.is_active(_utc(2026, 11, 6, 23, 30))   # Saturday 04:30 local
    assert not NIGHT.is_active(_utc(2026, 11, 7, 1, 0))  # Saturday 06:00 local: ended
    assert not NIGHT.is_active(_utc(2026, 11, 7, 18, 0))  # Saturday 23:00 local: no window on Saturdays


def test_kazakhstan_is_utc_plus_five_everywhere_since_march_2024() -> None:
    almaty = Schedule.from_json([{"days": ["mon"], "start": "22:00", "end": "23:00"}], "Asia/Almaty")
    assert almaty.active_intervals(_utc(2026, 11, 2), _utc(2026, 11, 3)) == [
        (_utc(2026, 11, 2, 17), _utc(2026, 11, 2, 18))]


def test_daylight_saving_is_handled_by_the_zone_database() -> None:
    berlin = Schedule.from_json([{"days": ["sat"], "start": "22:00", "end": "06:00"}], "Europe/Berlin")
    # The night of 2026-10-24/25 ends summer time: 22:00 CEST = 20:00 UTC, 06:00 CET = 05:00 UTC (9 h).
    (start, end), = berlin.active_intervals(_utc(2026, 10, 24), _utc(2026, 10, 26))
    assert (start, end) == (_utc(2026, 10, 24, 20), _utc(2026, 10, 25, 5))


def test_an_authorised_absence_lifts_the_rule_only_for_its_hours() -> None:
    absence = ScheduleException(_utc(2026, 11, 2, 18), _utc(2026, 11, 2, 20), ExceptionKind.ABSENCE, "hospital")
    s = NIGHT.with_exceptions([absence])
    assert s.active_intervals(_utc(2026, 11, 2, 12), _utc(2026, 11, 3, 12)) == [
        (_utc(2026, 11, 2, 17), _utc(2026, 11, 2, 18)), (_utc(2026, 11, 2, 20), _utc(2026, 11, 3, 1))]


def test_an_extra_window_adds_a_dated_curfew() -> None:
    extra = ScheduleException(_utc(2026, 11, 7, 15), _utc(2026, 11, 7, 16), ExceptionKind.EXTRA, "holiday")
    assert NIGHT.with_exceptions([extra]).is_active(_utc(2026, 11, 7, 15, 30))


def test_next_change_finds_the_window_edges() -> None:
    t = _utc(2026, 11, 2, 12)
    assert NIGHT.next_change(t) == _utc(2026, 11, 2, 17)
    assert NIGHT.next_change(_utc(2026, 11, 2, 17, 30)) == _utc(2026, 11, 3, 1)


@pytest.mark.parametrize("window,field", [
    ({"days": ["someday"], "start": "22:00", "end": "06:00"}, "schedule[0].days"),
    ({"days": ["mon"], "start": "25:00", "end": "06:00"}, "schedule[0].start"),
    ({"days": [], "start": "22:00", "end": "06:00"}, "schedule[0].days"),
])
def test_bad_windows_name_their_field(window: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule.from_json([window], "Asia/Almaty")
    assert info.value.field == field


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        Schedule.from_json([], "Asia/Nowhere")


@pytest.mark.parametrize("shape,message", [
    ({"type": "Circle", "coordinates": [76.9, 43.2], "radius_m": -5}, "radius must be positive"),
    ({"type": "Circle", "coordinates": [276.9, 43.2], "radius_m": 5}, "out of range"),
    ({"type": "Polygon", "coordinates": [[[76.9, 43.2], [76.91, 43.2], [76.9, 43.21]]]}, "at least 4"),
    ({"type": "Polygon", "coordinates": [[[76.9, 43.2], [76.91, 43.2], [76.9, 43.21], [76.95, 43.3]]]},
     "end where it starts"),
    ({"type": "Corridor", "coordinates": [[76.9, 43.2]], "width_m": 30}, "at least two"),
    ({"type": "Point", "coordinates": [76.9, 43.2]}, "unknown shape type"),
    ({"type": "Circle", "coordinates": [76.9, 43.2], "radius_m": 40_000}, "split zones"),
])
def test_invalid_shapes_are_refused_with_a_reason(shape: dict[str, object], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        shape_from_geojson(shape)


def test_corridor_is_the_line_buffered_by_half_its_width() -> None:
    corridor = shape_from_geojson({"type": "Corridor", "coordinates": [[76.90, 43.20], [76.91, 43.20]],
                                   "width_m": 40})
    proj = LocalProjection.about(corridor.anchor)
    area = corridor.to_local(proj).area
    length = haversine_m(76.90, 43.20, 76.91, 43.20)
    assert area == pytest.approx(length * 40 + 3.14159 * 20**2, rel=0.01)


def test_multipolygon_round_trips_to_geojson() -> None:
    raw = {"type": "MultiPolygon", "coordinates": [
        [[[76.90, 43.24], [76.91, 43.24], [76.91, 43.25], [76.90, 43.25], [76.90, 43.24]]],
        [[[76.92, 43.24], [76.93, 43.24], [76.93, 43.25], [76.92, 43.25], [76.92, 43.24]]]]}
    assert shape_from_geojson(raw).to_geojson() == raw


@given(st.floats(-80, 80), st.floats(-179, 179), st.floats(-3000, 3000), st.floats(-3000, 3000))
def test_local_projection_round_trips(lat: float, lon: float, x: float, y: float) -> None:
    proj = LocalProjection(lon, lat)
    back = proj.forward(*proj.inverse(x, y))
    assert back == pytest.approx((x, y), abs=1e-6)


def test_local_projection_agrees_with_great_circle_distance_at_city_scale() -> None:
    proj = LocalProjection(76.89, 43.24)
    for east, north in ((5000, 0), (0, 5000), (3000, 4000)):
        lon, lat = proj.inverse(east, north)
        assert haversine_m(76.89, 43.24, lon, lat) == pytest.approx((east**2 + north**2) ** 0.5, abs=1.0)


@pytest.mark.parametrize("patch,field", [
    ({"lat": 95.0}, "lat"), ({"lon": None}, None), ({"time": "2026-11-02T17:01:00"}, "time"),
    ({"source": "radar"}, "source"), ({"battery_pct": 140}, "battery_pct"), ({"seq": "x"}, "seq"),
    ({"strap": "ajar"}, "strap"), ({"events": "strap_open"}, "events"),
])
def test_bad_report_fields_are_named(patch: dict[str, object], field: str | None) -> None:
    base = {"device": "860000000000001", "seq": 1, "time": "2026-11-02T17:01:00Z",
            "received": "2026-11-02T17:01:02Z", "lat": 43.2, "lon": 76.9, "accuracy_m": 9.5, "source": "gps"}
    data = {**base, **patch}
    if field is None:  # lat without lon: the position is dropped, never half-kept
        report = DeviceReport.from_json(data)
        assert report.lat is None and report.lon is None and report.source.value == "none"
        return
    with pytest.raises(ReportError) as info:
        DeviceReport.from_json(data)
    assert info.value.field == field


def test_usable_fix_needs_100_m_or_a_beacon() -> None:
    t = _utc(2026, 11, 2, 17)
    good = DeviceReport.from_json({"device": "d", "time": "2026-11-02T17:00:00Z", "lat": 43.2, "lon": 76.9,
                                   "accuracy_m": 100, "source": "gps"})
    cell = DeviceReport.from_json({"device": "d", "time": "2026-11-02T17:00:00Z", "lat": 43.2, "lon": 76.9,
                                   "accuracy_m": 900, "source": "cell"})
    beacon = DeviceReport.from_json({"device": "d", "time": "2026-11-02T17:00:00Z", "source": "beacon"})
    assert good.has_usable_fix and not cell.has_usable_fix and beacon.has_usable_fix
    assert good.time == t and good.received == t + timedelta(0)
