"""The simulator: deterministic, readable by our own format, and its truth agrees with what devices said."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kuzet.domain.enums import AlertType
from kuzet.domain.geometry import haversine_m
from kuzet.exchange import read_bundle
from kuzet.simulator.bundle import generate, write
from kuzet.simulator.world import CITIES

START = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bundle():  # type: ignore[no-untyped-def]
    return generate(11, 15, START, 36, violation_rate=0.9)


def test_the_same_seed_gives_the_same_region() -> None:
    a = generate(3, 4, START, 3)
    b = generate(3, 4, START, 3)
    assert [r.to_json() for _, r in a.reports] == [r.to_json() for _, r in b.reports]
    assert a.plan.to_json() == b.plan.to_json()
    assert [r.to_json() for _, r in generate(4, 4, START, 3).reports] != [r.to_json() for _, r in a.reports]


def test_people_live_in_the_three_cities(bundle) -> None:  # type: ignore[no-untyped-def]
    for subject in bundle.plan.subjects:
        home = next(z for z in subject.zones if z.id == "home").shape
        assert min(haversine_m(*home.anchor, *c.centre) for c in CITIES) < 12_000


def test_reports_are_in_arrival_order_and_the_bundle_reads_back(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    received = [r.received for _, r in bundle.reports]
    assert received == sorted(received)
    write(tmp_path / "b", bundle)
    again = read_bundle(tmp_path / "b", with_truth=True)
    assert len(again.reports) == len(bundle.reports)
    assert len(again.truth) == len(bundle.truth)


def test_late_uploads_exist_after_offline_periods(bundle) -> None:  # type: ignore[no-untyped-def]
    late = [r for _, r in bundle.reports if (r.received - r.time).total_seconds() > 1800]
    offline = [e for e in bundle.truth if e.type is AlertType.COMMUNICATION_LOSS]
    assert offline, "a 90% incident rate over 36 h must include some offline device"
    assert late, "a device that was offline uploads its buffer late"


def test_tamper_truth_matches_the_strap_events_devices_sent(bundle) -> None:  # type: ignore[no-untyped-def]
    opened = {r.device for _, r in bundle.reports if "strap_open" in r.events}
    devices = {s.id: s.devices[0].id for s in bundle.plan.subjects}
    tampers = [e for e in bundle.truth if e.type is AlertType.STRAP_TAMPER]
    for episode in tampers:
        assert devices[episode.subject] in opened


def test_curfew_truth_starts_inside_a_curfew_window(bundle) -> None:  # type: ignore[no-untyped-def]
    zones = {(s.id, z.id): z for s in bundle.plan.subjects for z in s.zones}
    curfews = [e for e in bundle.truth if e.type is AlertType.CURFEW_ABSENCE]
    assert curfews
    for e in curfews:
        schedule = zones[(e.subject, e.target)].schedule
        assert schedule is not None and schedule.is_active(e.start)


def test_a_seeded_region_exports_the_same_rules_the_simulator_uses(sqlite_sessions) -> None:  # type: ignore[no-untyped-def]
    import random

    from kuzet.exchange.store_io import export_bundle
    from kuzet.simulator.seed import seed_people, seed_regions
    from kuzet.simulator.world import build_world, plan_of

    people = build_world(random.Random(5), 9, START, 2)
    with sqlite_sessions() as session, session.begin():
        secrets = seed_people(session, people, seed_regions(session), fitted_at=START)
    with sqlite_sessions() as session:
        exported = export_bundle(session).plan
    expected = plan_of(people)
    assert [s.id for s in exported.subjects] == [s.id for s in expected.subjects]
    for got, want in zip(exported.subjects, expected.subjects, strict=True):
        assert [z.to_json() for z in got.zones] == [z.to_json() for z in want.zones]
        assert got.protected_persons == want.protected_persons
        assert [d.id for d in got.devices] == [d.id for d in want.devices]
    assert set(secrets) == {p.device for p in people if p.protocol == "kuzet"}
