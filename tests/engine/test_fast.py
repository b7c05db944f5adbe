"""The fast path (``kuzet.engine.fast``) gives exactly what the careful path gives, report for report.

Two engines are driven side by side over the same arrival-ordered stream and the same clock: one calls
``on_report`` for every report, the other ``on_reports`` for batches of random size. Every alert change,
every timer and the final state must be equal. The streams come from the synthetic scenarios (outliers,
cell fixes, indoor loss, a device offline for hours uploading late, duplicates) and from a quiet fleet where
almost every report takes the fast path, with a checkpoint and a new plan in the middle.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import Closure, Source
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport
from kuzet.engine import AlertChange, Engine
from kuzet.engine.replay import run
from kuzet.engine.synth import Noise, scenario

from .helpers import T0, offset

Stream = list[tuple[int, DeviceReport]]


def _canon(changes: list[AlertChange]) -> list[str]:
    return sorted(repr((c.kind, c.episode)) for c in changes)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _state(engine: Engine) -> Any:
    """Everything in the engine's snapshot that can still change a decision.

    History older than the lateness bound is kept by the two paths to slightly different depths (it is
    pruned in steps); no report can reach it any more (one older than the bound is dropped), so only the
    entries within the bound, the state just before them, and the duplicate keys within it are compared.
    """
    assert engine.fast is not None
    engine._take_back_all()  # build every history as objects, so that both engines' snapshots compare
    for rt in list(engine.devices.values()):
        engine.fast.adopt(rt)
    body = msgspec.msgpack.decode(engine.snapshot())
    body.pop("fast")
    for dev in body["devices"].values():
        dev.pop("base_key")
        horizon = dev["newest_t"] - body["lateness"]
        k = next((i for i, t in enumerate(dev["hist_t"]) if t >= horizon), len(dev["hist_t"]))
        dev["base"] = dev["hist_state"][k - 1] if k > 0 else dev["base"]
        for name in ("hist_t", "hist_fix", "hist_state"):
            dev[name] = dev[name][k:]
        dev["seen"] = sorted((key for key in dev["seen"] if key[1] >= horizon), key=repr)
    return _plain(body)


def _drive(careful: Engine, fast: Engine, stream: Stream, sizes: random.Random, *,
           checkpoint_at: int | None = None, new_plan: tuple[int, MonitoringPlan] | None = None) -> int:
    """Feed both engines; return how many reports the fast path decided in bulk."""
    i = 0
    taken = 0
    while i < len(stream):
        n = sizes.choice([1, 2, 5, 17, 64, 300])
        chunk = stream[i:i + n]
        now = max(r.received for _, r in chunk)
        due = careful.next_deadline()
        assert due == fast.next_deadline()
        while due is not None and due <= now:
            assert _canon(careful.on_time(due)) == _canon(fast.on_time(due))
            nxt = careful.next_deadline()
            assert nxt == fast.next_deadline()
            if nxt is not None and nxt <= due:
                break
            due = nxt
        one: list[AlertChange] = []
        for line, r in chunk:
            one += careful.on_report(r, now=now, ref=line)
        before = fast.fast.taken if fast.fast else 0
        many = fast.on_reports([r for _, r in chunk], now=now, refs=[line for line, _ in chunk])
        assert fast.fast is not None
        taken += fast.fast.taken - before
        assert _canon(one) == _canon(many), f"batch at {i}"
        i += len(chunk)
        if checkpoint_at is not None and i >= checkpoint_at:
            checkpoint_at = None
            careful = _swap(careful, Engine.restore(careful.plan, careful.snapshot()))
            snapshot = fast.snapshot()
            held_rows = msgspec.msgpack.decode(snapshot)["fast"]["columns"]["slot"][1]
            assert len(held_rows) > 0  # the checkpoint carried reports as columns
            fast = _swap(fast, Engine.restore(fast.plan, snapshot))
            assert _state(careful) == _state(fast)
        if new_plan is not None and i >= new_plan[0]:
            careful.update_plan(new_plan[1])
            fast.update_plan(new_plan[1])
            new_plan = None
    assert _state(careful) == _state(fast)
    assert careful.open_episodes() == fast.open_episodes()
    return taken


def _swap(old: Engine, new: Engine) -> Engine:
    """Continue with ``new`` in place of ``old`` (the caller's reference is the one returned)."""
    old.__dict__.update(new.__dict__)
    assert old.fast is not None
    old.fast.engine = old
    return old


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), level=st.sampled_from([0.2, 0.6, 0.9]), sizes=st.integers(0, 10_000))
def test_the_fast_path_gives_what_the_careful_path_gives_on_noisy_scenarios(seed: int, level: float,
                                                                           sizes: int) -> None:
    bundle = scenario(seed, subjects=3, days=0.5, noise=Noise(level=level))
    taken = _drive(Engine(bundle.plan), Engine(bundle.plan), bundle.reports, random.Random(sizes))
    assert taken > 0


def _quiet_fleet(devices: int, minutes: int, seed: int) -> tuple[MonitoringPlan, Stream]:
    """Wearers at home under a curfew that opens mid-stream; now and then one steps out, drops a fix,
    opens the strap, runs low, goes silent, or uploads a backlog late; duplicates and beacon contacts."""
    rng = random.Random(seed)
    subjects, homes = [], []
    for k in range(devices):
        home = offset((76.9, 43.24), rng.uniform(-4000, 4000), rng.uniform(-4000, 4000))
        homes.append(home)
        a, b = offset(home, 300, 300), offset(home, 420, 420)
        c, d = offset(home, -250, 100), offset(home, -600, 150)
        subjects.append({
            "id": f"S-{k:04d}", "category": "parole", "devices": [{"id": f"D{k:05d}", "kind": "gps_bracelet"}],
            "communication_timeout_s": 900,
            "zones": [
                {"id": "home", "kind": "inclusion", "grace_s": 300,
                 "shape": {"type": "Circle", "coordinates": list(home), "radius_m": 60},
                 "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "17:40",
                               "end": "06:00"}]},
                {"id": "school", "kind": "exclusion", "grace_s": 60, "schedule": None, "shape": {
                    "type": "Polygon", "coordinates": [[[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]],
                                                        [a[0], a[1]]]]}},
                {"id": "street", "kind": "exclusion", "grace_s": 60, "schedule": None,
                 "shape": {"type": "Corridor", "coordinates": [list(c), list(d)], "width_m": 30}},
            ],
        })
    plan = MonitoringPlan.from_json({"format": "emx/1", "timezone": "Asia/Almaty", "subjects": subjects})
    out: list[DeviceReport] = []
    for k, home in enumerate(homes):
        silent = rng.random() < 0.1 and rng.randint(10, minutes)
        backlog = rng.random() < 0.15 and rng.randint(5, minutes - 20)
        trip = rng.random() < 0.3 and rng.randint(0, minutes - 10)
        for minute in range(minutes):
            if silent and silent <= minute < silent + 25:
                continue
            t = T0 + timedelta(minutes=minute, seconds=k % 60)
            received = t + timedelta(seconds=rng.uniform(1, 4))
            if backlog and backlog <= minute < backlog + 15:
                received = T0 + timedelta(minutes=backlog + 16, seconds=rng.uniform(0, 5))
            pos: tuple[float, float] | None = offset(home, rng.gauss(0, 7), rng.gauss(0, 7))
            source, acc = Source.GPS, rng.choice([5.0, 8.0, 12.0])
            fields: dict[str, Any] = {}
            if trip and trip <= minute < trip + 8:
                pos = offset(home, 350, 360)  # inside the exclusion zone
            r = rng.random()
            if r < 0.01:
                pos = offset(home, rng.uniform(-2000, 2000), rng.uniform(-2000, 2000))
            elif r < 0.02:
                pos, source = None, Source.NONE
            elif r < 0.03:
                source, acc = Source.CELL, 400.0
            elif r < 0.04:
                source = Source.BEACON
            elif r < 0.045:
                fields = {"strap": Closure.OPEN, "events": ("strap_open",)}
            elif r < 0.05:
                fields = {"battery_pct": 5.0}
            elif r < 0.06:
                fields = {"events": ("strap_closed",)}
            elif r < 0.07:
                acc = 150.0
            seq = minute + 1 if k % 5 else None
            report = DeviceReport(device=f"D{k:05d}", time=t, received=received, seq=seq,
                                  lat=None if pos is None else pos[1], lon=None if pos is None else pos[0],
                                  accuracy_m=None if pos is None else acc, source=source,
                                  battery_pct=fields.pop("battery_pct", 80.0), charging=False,
                                  strap=fields.pop("strap", Closure.CLOSED), case=Closure.CLOSED, **fields)
            out.append(report)
            if rng.random() < 0.02:
                out.append(report.with_received(received + timedelta(seconds=rng.uniform(0, 90))))
    ordered = sorted(enumerate(out, 1), key=lambda x: (x[1].received, x[0]))
    return plan, ordered


@pytest.mark.parametrize("seed", [1, 2])
def test_a_quiet_fleet_goes_through_the_fast_path_and_gives_the_same_alerts(seed: int) -> None:
    plan, stream = _quiet_fleet(40, 150, seed)
    taken = _drive(Engine(plan), Engine(plan), stream, random.Random(seed))
    assert taken > 0.7 * len(stream)


def test_the_fast_path_survives_a_checkpoint_and_a_new_plan_mid_stream() -> None:
    plan, stream = _quiet_fleet(30, 120, 3)
    smaller = MonitoringPlan.from_json({
        "format": "emx/1", "timezone": "Asia/Almaty",
        "subjects": [{**s.to_json(), "zones": [z.to_json() for z in s.zones[:2]]} for s in plan.subjects[:25]]})
    careful, fast = Engine(plan), Engine(plan)
    taken = _drive(careful, fast, stream, random.Random(5), checkpoint_at=len(stream) // 3,
                   new_plan=(2 * len(stream) // 3, smaller))
    assert taken > 0.5 * len(stream)


def test_rows_expired_from_the_log_still_rewind_right() -> None:
    """A short lateness bound and a small log: late uploads rewind into history whose oldest part left the
    columns long ago."""
    plan, stream = _quiet_fleet(25, 150, 4)
    careful = Engine(plan, lateness=timedelta(minutes=10))
    fast = Engine(plan, lateness=timedelta(minutes=10))
    assert fast.fast is not None
    fast.fast.expire_every = 200
    _drive(careful, fast, stream, random.Random(6))
    assert careful.dropped_too_late == fast.dropped_too_late > 0
    assert fast.fast.expired > 1000


def test_the_fast_path_takes_plain_reports_only() -> None:
    plan, _ = _quiet_fleet(2, 30, 0)
    engine = Engine(plan)
    assert engine.fast is not None
    home = plan.subjects[0].zones[0].shape.anchor
    now = T0 + timedelta(seconds=5)

    def rep(minute: int, **kw: Any) -> DeviceReport:
        base: dict[str, Any] = {"device": "D00000", "time": T0 + timedelta(minutes=minute), "received": now,
                                "seq": minute + 1, "lat": home[1], "lon": home[0], "accuracy_m": 8.0,
                                "source": Source.GPS, "battery_pct": 80.0, "charging": False}
        base.update(kw)
        return DeviceReport(**base)

    assert engine.on_reports([rep(0), rep(1), rep(2)], now=now + timedelta(minutes=3)) == []
    assert engine.fast.taken == 3
    # a strap opening is not plain: it and what follows go the careful way
    changes = engine.on_reports([rep(3), rep(4, strap=Closure.OPEN), rep(5)], now=now + timedelta(minutes=6))
    assert engine.fast.taken == 4
    assert [c.episode.type.value for c in changes] == ["strap_tamper"]
    # while the strap is open the device is not quiet: nothing of it is taken in bulk
    engine.on_reports([rep(6, strap=Closure.OPEN)], now=now + timedelta(minutes=7))
    assert engine.fast.taken == 4
    assert not engine.fast.owned[engine.fast.slot_of["D00000"]]
    # closed again and back home: quiet, so held again and taken in bulk
    engine.on_reports([rep(7, strap=Closure.CLOSED)], now=now + timedelta(minutes=8))
    assert engine.fast.owned[engine.fast.slot_of["D00000"]]
    assert engine.on_reports([rep(8)], now=now + timedelta(minutes=9)) == []
    assert engine.fast.taken == 5
    assert math.isfinite(engine.fast.pushed[engine.fast.slot_of["D00000"]])


def test_devices_with_a_protected_person_are_never_taken_in_bulk() -> None:
    plan = MonitoringPlan.from_json({"format": "emx/1", "timezone": "Asia/Almaty", "subjects": [{
        "id": "S-1", "category": "parole", "devices": [{"id": "D1", "kind": "gps_bracelet"}],
        "protected_persons": [{"id": "P-1", "device": "PP-1", "distance_m": 300}]}]})
    engine = Engine(plan)
    r = DeviceReport(device="D1", time=T0, received=T0, seq=1, lat=43.2, lon=76.9, accuracy_m=5.0,
                     source=Source.GPS)
    engine.on_reports([r], now=datetime.fromtimestamp(T0.timestamp() + 1, T0.tzinfo))
    assert engine.fast is not None and engine.fast.taken == 0


def _replay_in_batches(engine: Engine, stream: Stream, sizes: random.Random) -> list[AlertEpisode]:
    """What ``kuzet.engine.replay.run`` does, with reports handed over in batches with their arrivals."""
    latest: dict[tuple[Any, ...], AlertEpisode] = {}
    clock: datetime | None = None
    i = 0
    while i < len(stream):
        chunk = stream[i:i + sizes.choice([1, 3, 40, 500])]
        arrivals = []
        for _, r in chunk:
            clock = r.received if clock is None or r.received > clock else clock
            arrivals.append(clock)
        for c in engine.on_reports([r for _, r in chunk], arrivals=arrivals, refs=[line for line, _ in chunk]):
            ep = c.episode
            latest[(ep.subject, ep.type, ep.target, ep.start, ep.raised_at)] = ep
        i += len(chunk)
    return sorted(latest.values(), key=lambda e: (e.raised_at, e.subject, e.type.value))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_with_their_arrival_times_give_what_replay_gives(seed: int) -> None:
    plan, stream = _quiet_fleet(40, 150, seed)
    expected = run(Engine(plan), stream, batch=1)
    fast = Engine(plan)
    assert _replay_in_batches(fast, stream, random.Random(seed)) == expected
    assert fast.fast is not None and fast.fast.taken > 0.5 * len(stream)
    assert any(a.type.value == "communication_loss" for a in expected)  # the timers did fire


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), level=st.sampled_from([0.2, 0.9]), sizes=st.integers(0, 10_000))
def test_batches_with_their_arrival_times_give_what_replay_gives_on_noisy_scenarios(seed: int, level: float,
                                                                                    sizes: int) -> None:
    bundle = scenario(seed, subjects=3, days=0.5, noise=Noise(level=level))
    expected = run(Engine(bundle.plan), bundle.reports, batch=1)
    assert _replay_in_batches(Engine(bundle.plan), bundle.reports, random.Random(sizes)) == expected
