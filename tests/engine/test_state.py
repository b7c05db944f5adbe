"""Event-time state: checkpoints, arrival order within the lateness bound, and the batched path."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.reports import DeviceReport
from kuzet.engine import Engine
from kuzet.engine.replay import run

from .helpers import (
    HOME,
    PP_DEVICE,
    SCHOOL_CENTRE,
    T0,
    home_zone,
    offset,
    plan,
    report,
    school_zone,
)

AWAY = offset(HOME, 900, -200)
PLAN = plan(zones=[home_zone([{"days": ["mon"], "start": "17:20", "end": "23:00"}]), school_zone()],
            pps=[{"id": "P-1", "device": PP_DEVICE, "distance_m": 300}], timeout_s=900)


def _story(seed: int, minutes: int = 110) -> list[DeviceReport]:
    """A subject who goes out, visits the exclusion zone, comes back, with noise, gaps and tamper events."""
    rng = random.Random(seed)
    out: list[DeviceReport] = []
    legs = [HOME] * 30 + [AWAY] * rng.randint(3, 20) + [SCHOOL_CENTRE] * rng.randint(1, 12) + [AWAY] * 5
    legs += [HOME] * (minutes - len(legs))
    for i, base in enumerate(legs[:minutes]):
        if rng.random() < 0.05:
            pos = None
        else:
            jitter = rng.gauss(0, 6), rng.gauss(0, 6)
            if rng.random() < 0.03:
                jitter = rng.uniform(-2000, 2000), rng.uniform(-2000, 2000)
            pos = offset(base, *jitter)
        extra = {}
        if i == 40:
            extra = {"strap": "open", "events": ["strap_open"]}
        elif i == 43:
            extra = {"strap": "closed", "events": ["strap_closed"]}
        out.append(report(i, pos, seq=i + 1, accuracy_m=rng.choice([6.0, 9.0, 25.0]), battery_pct=90 - i * 0.5,
                          delay_s=rng.uniform(1, 8), **extra))
        if i % 2 == 0:
            out.append(report(i + 0.3, offset(AWAY, 100, 0), seq=i + 1, device=PP_DEVICE))
    return out


def _final(alerts: list[AlertEpisode]) -> list[tuple[object, ...]]:
    return sorted((a.subject, a.type.value, a.target, a.start, a.end) for a in alerts)


def _arrival(reports: list[DeviceReport]) -> list[tuple[int, DeviceReport]]:
    return sorted(enumerate(reports, 1), key=lambda x: (x[1].received, x[0]))


def test_snapshot_and_restore_mid_stream_gives_the_same_alerts() -> None:
    reports = _arrival(_story(7))
    whole = run(Engine(PLAN), reports)
    for cut in (10, 45, 80, 200):
        engine = Engine(PLAN)
        first = run(engine, reports[:cut])
        restored = Engine.restore(PLAN, engine.snapshot())
        assert restored.snapshot() == engine.snapshot()
        second = run(restored, reports[cut:])
        merged = {(a.subject, a.type, a.target, a.start): a for a in first + second}
        assert _final(list(merged.values())) == _final(whole)


def _overlap(x: AlertEpisode, y: AlertEpisode) -> bool:
    return ((x.subject, x.type, x.target) == (y.subject, y.type, y.target)
            and (x.end is None or x.end >= y.start) and (y.end is None or y.end >= x.start))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000))
def test_shuffling_arrival_within_the_lateness_bound_never_loses_a_violation(seed: int, shuffle_seed: int) -> None:
    """What holds when arrival order is shuffled (delays up to 600 s, well within the lateness bound).

    The engine raises in *arrival* time (an alert must not wait for stragglers), so it may raise on the
    evidence it has and be contradicted by a report that arrives later. Precisely:

    - every episode found with reports in time order is also found (an overlapping episode of the same
      subject, type and target): arrival order never loses a violation;
    - every further episode found under the shuffle is closed: a speculative raise that later reports
      contradict is closed as soon as they arrive, never left open;
    - ``raised_at``/``late`` depend on arrival by definition, and so does communication loss (it is about
      arrival itself), so those are left out.

    Identical final episodes hold for the per-rule transitions themselves (``kuzet.engine.rules``) and for
    data arriving in order, which the other tests pin down.
    """
    reports = _story(seed)
    rng = random.Random(shuffle_seed)
    shuffled = [r.with_received(r.received + timedelta(seconds=rng.uniform(0, 600))) for r in reports]
    a = [a for a in run(Engine(PLAN), _arrival(reports)) if a.type.value != "communication_loss"]
    b = [a for a in run(Engine(PLAN), _arrival(shuffled)) if a.type.value != "communication_loss"]
    assert all(any(_overlap(x, y) for y in b) for x in a)
    assert all(y.end is not None or any(_overlap(y, x) for x in a) for y in b)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 64))
def test_the_batched_path_gives_exactly_what_per_report_processing_gives(seed: int, batch: int) -> None:
    reports = [r for _, r in _arrival(_story(seed, minutes=90))]
    one, many = Engine(PLAN), Engine(PLAN)
    changes_one, changes_many = [], []
    for start in range(0, len(reports), batch):
        chunk = reports[start:start + batch]
        now = max(r.received for r in chunk)
        for r in chunk:
            changes_one += one.on_report(r, now=now)
        changes_many += many.on_reports(chunk, now=now)
    assert changes_one == changes_many
    assert one.snapshot() == many.snapshot()


def test_a_report_beyond_the_lateness_bound_does_not_rewind() -> None:
    engine = Engine(plan(zones=[school_zone()]), lateness=timedelta(minutes=30))
    for i in range(120):
        r = report(i, HOME, seq=i + 1)
        engine.on_report(r, now=r.received)
    old = report(5, SCHOOL_CENTRE, seq=500, received=T0 + timedelta(minutes=121))
    assert engine.on_report(old, now=old.received) == []
    assert engine.dropped_too_late == 1
