"""Each detector on hand-made tracks, including the cases that trip per-fix trackers."""

from __future__ import annotations

from datetime import datetime, timedelta

from kuzet.domain.enums import AlertType
from kuzet.domain.schedules import ExceptionKind, Schedule, ScheduleException
from kuzet.engine import AlertChange, Engine, replay
from kuzet.engine.naive import NaiveEngine
from kuzet.engine.replay import run
from kuzet.exchange.bundle import Bundle

from .helpers import (
    DEVICE,
    HOME,
    PP_DEVICE,
    SCHOOL_CENTRE,
    T0,
    home_zone,
    of_type,
    offset,
    plan,
    replay_reports,
    report,
    school_zone,
    track,
)

AWAY = offset(HOME, 800, 300)
def _fire_timers(engine: Engine, *, until: datetime) -> list[tuple[datetime, AlertChange]]:
    """Advance the clock from timer to timer up to ``until``, as the monitor does when no data comes."""
    fired: list[tuple[datetime, AlertChange]] = []
    due = engine.next_deadline()
    while due is not None and due <= until:
        fired += [(due, c) for c in engine.on_time(due)]
        nxt = engine.next_deadline()
        if nxt is not None and nxt <= due:
            break
        due = nxt
    return fired


CURFEW_17_TO_06 = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "17:30", "end": "06:00"}]


def test_already_outside_when_curfew_starts_is_a_violation_from_the_window_start() -> None:
    # Curfew opens at 17:30 local = minute 30; the subject is away the whole time.
    p = plan(zones=[home_zone(CURFEW_17_TO_06)])
    alerts = replay_reports(p, track([AWAY] * 50, start_minute=0.5))
    [ep] = of_type(alerts, "curfew_absence")
    assert ep.start == T0 + timedelta(minutes=30)
    assert ep.raised_at - (ep.start + timedelta(seconds=300)) <= timedelta(seconds=60)
    assert not ep.late
    naive = run(NaiveEngine(p), list(enumerate(track([AWAY] * 50, start_minute=0.5), 1)))
    assert of_type(naive, "curfew_absence")[0].start > ep.start  # the per-fix tracker only sees the next fix


def test_already_outside_fires_by_timer_without_new_data() -> None:
    p = plan(zones=[home_zone(CURFEW_17_TO_06)])
    engine = Engine(p)
    for r in track([AWAY] * 29):  # the last fix is at minute 28, before the window opens
        engine.on_report(r, now=r.received)
    fired = _fire_timers(engine, until=T0 + timedelta(minutes=40))
    curfew = [(at, c) for at, c in fired if c.episode.type is AlertType.CURFEW_ABSENCE]
    [(at, change)] = curfew
    assert at == T0 + timedelta(minutes=35)
    assert change.kind == "raised" and change.episode.start == T0 + timedelta(minutes=30)
    assert change.episode.raised_at == at


def test_a_device_silent_since_before_the_curfew_window_is_a_communication_loss_not_a_curfew_absence() -> None:
    # The subject is away until minute 10 and the battery dies; curfew opens at minute 30 (17:30 local).
    p = plan(zones=[home_zone(CURFEW_17_TO_06)], timeout_s=1800)
    engine = Engine(p)
    for r in track([AWAY] * 11):
        engine.on_report(r, now=r.received)
    fired = _fire_timers(engine, until=T0 + timedelta(hours=14))
    kinds = {c.episode.type for _, c in fired}
    assert AlertType.CURFEW_ABSENCE not in kinds  # nothing positional from inside the window
    assert AlertType.COMMUNICATION_LOSS in kinds
    # Fresh fixes outside after the window opened are a violation again, from the window's start.
    engine2 = Engine(p)
    for r in track([AWAY] * 11) + track([AWAY] * 10, start_minute=40, seq0=100):
        engine2.on_report(r, now=r.received)
    _fire_timers(engine2, until=T0 + timedelta(minutes=60))
    assert [e.type for e in engine2.open_episodes()].count(AlertType.CURFEW_ABSENCE) == 1


def test_two_minute_step_out_under_the_grace_is_not_an_alert() -> None:
    p = plan(zones=[home_zone()])
    points = [HOME] * 10 + [AWAY, AWAY] + [HOME] * 10
    assert of_type(replay_reports(p, track(points)), "curfew_absence") == []


def test_leaving_home_for_longer_than_the_grace_is_raised_then_closes_itself() -> None:
    p = plan(zones=[home_zone()])
    points = [HOME] * 10 + [AWAY] * 20 + [HOME] * 10
    [ep] = of_type(replay_reports(p, track(points)), "curfew_absence")
    assert ep.start == T0 + timedelta(minutes=10)
    assert ep.raised_at <= ep.start + timedelta(seconds=300 + 60)
    assert ep.end == T0 + timedelta(minutes=30)
    assert ep.evidence[:2] == (11, 12)
    assert 0.5 <= ep.confidence <= 1.0


def test_drive_by_through_an_exclusion_zone_is_not_an_alert() -> None:
    p = plan(zones=[school_zone()])
    points = [HOME] * 5 + [SCHOOL_CENTRE] + [AWAY] * 5
    assert of_type(replay_reports(p, track(points)), "exclusion_entry") == []
    naive = run(NaiveEngine(p), list(enumerate(track(points), 1)))
    assert len(of_type(naive, "exclusion_entry")) == 1


def test_staying_in_an_exclusion_zone_is_raised_within_the_grace_and_a_fix() -> None:
    p = plan(zones=[school_zone()])
    points = [HOME] * 5 + [SCHOOL_CENTRE] * 10 + [AWAY] * 5
    [ep] = of_type(replay_reports(p, track(points)), "exclusion_entry")
    assert ep.start == T0 + timedelta(minutes=5)
    assert ep.raised_at <= ep.start + timedelta(seconds=60 + 60 + 5)
    assert ep.end == T0 + timedelta(minutes=15)


def test_cell_positions_claiming_gps_accuracy_far_from_home_do_not_prove_an_absence() -> None:
    # Indoors at home: GPS fixes, then a spell of cell positions 1-1.4 km off that claim 25 m.
    p = plan(zones=[home_zone()])
    far = [offset(HOME, 900 + 60 * i, 700) for i in range(8)]
    reports = track([HOME] * 5) + track(far, start_minute=5, seq0=6, source="cell", accuracy_m=25.0) \
        + track([HOME] * 5, start_minute=13, seq0=14)
    assert of_type(replay_reports(p, reports), "curfew_absence") == []
    # The same positions from GPS are an absence.
    gps = track([HOME] * 5) + track(far, start_minute=5, seq0=6, accuracy_m=25.0) \
        + track([HOME] * 5, start_minute=13, seq0=14)
    assert len(of_type(replay_reports(p, gps), "curfew_absence")) == 1


def test_stray_fixes_outside_with_fixes_back_inside_between_them_do_not_end_an_exclusion_violation() -> None:
    # Ten minutes in the exclusion zone, then two lone fixes outside, each followed by a poor fix inside.
    p = plan(zones=[school_zone()])
    reports = track([SCHOOL_CENTRE] * 10)
    reports += [report(10, AWAY, seq=11), report(11, SCHOOL_CENTRE, seq=12, accuracy_m=50.0),
                report(12, AWAY, seq=13), report(13, SCHOOL_CENTRE, seq=14, accuracy_m=50.0)]
    reports += track([SCHOOL_CENTRE] * 5, start_minute=14, seq0=15)
    [ep] = of_type(replay_reports(p, reports), "exclusion_entry")
    assert ep.end is None  # still inside at the end of the data: one episode, never closed


def test_a_lone_outlier_after_fixes_on_the_boundary_is_not_an_absence() -> None:
    # One fix 90 m out, five on the boundary (neither side), then a multipath fix 800 m out after the grace.
    p = plan(zones=[home_zone()])
    points = [HOME] * 5 + [offset(HOME, 90, 0)] + [offset(HOME, 62, 0)] * 5 + [offset(HOME, 800, 0)] + [HOME] * 5
    assert of_type(replay_reports(p, track(points)), "curfew_absence") == []
    # Two fixes in a row out there are an absence.
    points = [HOME] * 5 + [offset(HOME, 90, 0)] + [offset(HOME, 62, 0)] * 5 + [offset(HOME, 800, 0)] * 2 \
        + [HOME] * 5
    assert len(of_type(replay_reports(p, track(points)), "curfew_absence")) == 1


def test_a_two_kilometre_outlier_jump_is_not_an_alert() -> None:
    p = plan(zones=[home_zone(), school_zone()])
    points = [HOME] * 10 + [offset(HOME, 2000, 0)] + [HOME] * 10
    assert replay_reports(p, track(points)) == []
    points = [HOME] * 10 + [SCHOOL_CENTRE] + [HOME] * 10  # the outlier lands in the exclusion zone
    assert replay_reports(p, track(points)) == []


def test_poor_fixes_near_the_boundary_are_not_an_alert() -> None:
    p = plan(zones=[home_zone(radius_m=50)])
    points = [offset(HOME, 70, 0)] * 30  # 20 m outside, but each fix claims only 40 m accuracy
    assert replay_reports(p, track(points, accuracy_m=40.0)) == []


def test_a_device_offline_for_three_hours_uploads_late_and_the_violation_is_raised_late() -> None:
    p = plan(zones=[school_zone()], timeout_s=1800)
    live = track([HOME] * 10)
    upload_at = T0 + timedelta(minutes=10 + 180)
    offline = [report(10 + i, SCHOOL_CENTRE if 60 <= i < 90 else HOME, seq=11 + i, received=upload_at)
               for i in range(180)]
    back = track([HOME] * 5, start_minute=190, seq0=191)
    alerts = replay_reports(p, live + offline + back)
    [loss] = of_type(alerts, "communication_loss")
    assert loss.start == T0 + timedelta(minutes=9) and loss.end == upload_at and not loss.late
    [ep] = of_type(alerts, "exclusion_entry")
    assert ep.late and ep.start == T0 + timedelta(minutes=70) and ep.end == T0 + timedelta(minutes=100)
    assert ep.raised_at == upload_at


def test_backlog_arriving_after_newer_live_reports_is_evaluated_in_event_time() -> None:
    p = plan(zones=[school_zone()])
    live = track([HOME] * 10) + track([HOME] * 10, start_minute=60, seq0=61)
    upload_at = T0 + timedelta(minutes=75)
    gap = [report(10 + i, SCHOOL_CENTRE if 20 <= i < 35 else HOME, seq=11 + i, received=upload_at)
           for i in range(50)]
    [ep] = of_type(replay_reports(p, live + gap), "exclusion_entry")
    assert ep.late and ep.start == T0 + timedelta(minutes=30) and ep.end == T0 + timedelta(minutes=45)


def test_duplicates_are_ignored() -> None:
    p = plan(zones=[home_zone()])
    points = [HOME] * 10 + [AWAY] * 20 + [HOME] * 10
    once = replay_reports(p, track(points))
    twice = replay_reports(p, track(points) + track(points, delay_s=30))
    assert [(a.start, a.end, a.evidence) for a in once] == [(a.start, a.end, a.evidence) for a in twice]


def test_out_of_order_within_lateness_gives_the_same_episode() -> None:
    p = plan(zones=[home_zone()])
    points = [HOME] * 10 + [AWAY] * 20 + [HOME] * 10
    reports = track(points)
    shuffled = list(reports)
    # fixes 12 and 13 arrive after 14 and 15
    shuffled[11] = report(11, AWAY, seq=12, delay_s=200)
    shuffled[12] = report(12, AWAY, seq=13, delay_s=150)
    a = of_type(replay_reports(p, reports), "curfew_absence")
    b = of_type(replay_reports(p, shuffled), "curfew_absence")
    assert [(e.start, e.end) for e in a] == [(e.start, e.end) for e in b]


def test_communication_loss_fires_by_timer_with_no_new_data() -> None:
    p = plan(timeout_s=600)
    engine = Engine(p)
    for r in track([HOME] * 5):
        engine.on_report(r, now=r.received)
    last = track([HOME] * 5)[-1]
    due = last.received + timedelta(seconds=600)
    assert _fire_timers(engine, until=due - timedelta(seconds=1)) == []
    [(at, change)] = _fire_timers(engine, until=due)
    assert at == due
    assert change.kind == "raised" and change.episode.type is AlertType.COMMUNICATION_LOSS
    assert change.episode.start == last.time and change.episode.end is None
    back = report(30, HOME, seq=99)
    [closed] = engine.on_report(back, now=back.received)
    assert closed.kind == "closed" and closed.episode.end == back.received


def test_location_loss_when_reports_arrive_without_a_usable_fix() -> None:
    p = plan(timeout_s=1800)
    reports = track([HOME] * 5 + [None] * 40 + [HOME] * 3)
    [ep] = of_type(replay_reports(p, reports), "location_loss")
    assert ep.start == T0 + timedelta(minutes=4)
    assert ep.end == T0 + timedelta(minutes=45)
    assert ep.raised_at <= ep.start + timedelta(seconds=1800 + 65)
    cell = track([HOME] * 5) + track([HOME] * 40, start_minute=5, seq0=6, accuracy_m=900.0, source="cell")
    assert len(of_type(replay_reports(p, cell), "location_loss")) == 1


def test_battery_critical_until_charging() -> None:
    p = plan()
    reports = [report(i, HOME, seq=i + 1, battery_pct=max(5, 30 - 2 * i)) for i in range(15)]
    reports += [report(15, HOME, seq=16, battery_pct=6, charging=True)]
    [ep] = of_type(replay_reports(p, reports), "battery_critical")
    assert ep.start == T0 + timedelta(minutes=10) and ep.end == T0 + timedelta(minutes=15)


def test_strap_and_case_tamper_open_and_close() -> None:
    p = plan()
    reports = track([HOME] * 3)
    reports += [report(3, HOME, seq=4, strap="open", events=["strap_open"]), report(4, HOME, seq=5, strap="open"),
                report(5, HOME, seq=6, strap="closed", events=["strap_closed"]),
                report(6, HOME, seq=7, case="open", events=["case_open"]),
                report(9, HOME, seq=8, case="closed", events=["case_closed"])]
    alerts = replay_reports(p, reports)
    [strap] = of_type(alerts, "strap_tamper")
    assert (strap.start, strap.end) == (T0 + timedelta(minutes=3), T0 + timedelta(minutes=5))
    assert strap.raised_at == reports[3].received and strap.evidence == (4,)
    [case] = of_type(alerts, "case_tamper")
    assert (case.start, case.end) == (T0 + timedelta(minutes=6), T0 + timedelta(minutes=9))


def test_proximity_to_a_moving_protected_person() -> None:
    p = plan(pps=[{"id": "P-1", "device": PP_DEVICE, "distance_m": 300, "grace_s": 60}])
    subject = track([offset(HOME, 0, 0)] * 30)
    # the protected person walks towards the subject, stays near for 10 minutes, then walks away
    pp_points = [offset(HOME, 2000 - 100 * i, 0) for i in range(10)]
    pp_points += [offset(HOME, 150, 0)] * 10 + [offset(HOME, 1000 + 100 * i, 0) for i in range(10)]
    pp = [report(i + 0.1, pt, seq=i + 1, device=PP_DEVICE) for i, pt in enumerate(pp_points)]
    alerts = replay_reports(p, subject + pp)
    [ep] = of_type(alerts, "proximity")
    assert ep.target == "P-1"
    assert T0 + timedelta(minutes=9) <= ep.start <= T0 + timedelta(minutes=11)
    assert ep.end is not None and T0 + timedelta(minutes=19) <= ep.end <= T0 + timedelta(minutes=22)
    assert all(a.subject == "S-1" for a in alerts)  # the protected person's device raises nothing itself


def test_a_stray_fix_of_the_protected_persons_phone_is_not_proximity() -> None:
    # The protected person stays 1.5 km away; one multipath fix lands beside the subject (a 1.5 km jump in a
    # minute passes any speed gate) and the next fix is back where it was. The subject fixes that arrive
    # before that next fix must not pair with the spike.
    p = plan(pps=[{"id": "P-1", "device": PP_DEVICE, "distance_m": 500, "grace_s": 60}])
    subject = track([offset(HOME, 0, 0)] * 40, step_min=0.5)  # three subject fixes pair with the spike
    pp_points = [offset(HOME, 1500, 0)] * 20
    pp_points[10] = offset(HOME, 20, 0)
    pp = [report(i + 0.6, pt, seq=i + 1, device=PP_DEVICE) for i, pt in enumerate(pp_points)]
    assert of_type(replay_reports(p, subject + pp), "proximity") == []


def test_a_protected_person_driving_up_to_the_subject_is_proximity() -> None:
    # Fast movement: each fix is a jump that waits for the next one, which confirms it (still moving on).
    p = plan(pps=[{"id": "P-1", "device": PP_DEVICE, "distance_m": 500, "grace_s": 60}])
    subject = track([offset(HOME, 0, 0)] * 30)
    pp_points = [offset(HOME, 6000 - 1000 * i, 0) for i in range(6)] + [offset(HOME, 100, 0)] * 24
    pp = [report(i + 0.6, pt, seq=i + 1, device=PP_DEVICE) for i, pt in enumerate(pp_points)]
    [ep] = of_type(replay_reports(p, subject + pp), "proximity")
    assert T0 + timedelta(minutes=5) <= ep.start <= T0 + timedelta(minutes=7)
    assert ep.raised_at <= T0 + timedelta(minutes=9)


def test_reports_from_unknown_devices_are_ignored() -> None:
    p = plan(zones=[home_zone()])
    assert replay_reports(p, track([AWAY] * 30, device="999")) == []


def test_schedule_across_midnight_and_an_authorised_absence() -> None:
    night = [{"days": ["mon"], "start": "22:00", "end": "06:00"}]
    p = plan(zones=[home_zone(night)])
    # Monday 22:00 Almaty = 17:00 UTC = minute 300 from T0. Away from 23:00 to 01:00 (minutes 360..480).
    points = [HOME if not (360 <= i < 480) else AWAY for i in range(0, 600, 2)]
    [ep] = of_type(replay_reports(p, track(points, step_min=2)), "curfew_absence")
    assert ep.start == T0 + timedelta(minutes=360) and ep.end == T0 + timedelta(minutes=480)
    # Away 05:00-07:00 local: the violation ends with the window at 06:00, after midnight
    points = [HOME if not (720 <= i < 840) else AWAY for i in range(0, 900, 2)]
    [ep] = of_type(replay_reports(p, track(points, step_min=2)), "curfew_absence")
    assert ep.start == T0 + timedelta(minutes=720) and ep.end == T0 + timedelta(minutes=780)
    # The officer approved an absence 23:00-01:30: the same trip is no violation
    zone = p.subjects[0].zones[0]
    assert zone.schedule is not None
    absence = ScheduleException(T0 + timedelta(minutes=355), T0 + timedelta(minutes=390 + 60),
                                ExceptionKind.ABSENCE, "hospital visit")
    from dataclasses import replace

    excused = replace(p, subjects=(replace(p.subjects[0], zones=(replace(zone, schedule=zone.schedule
                                                                          .with_exceptions([absence])),)),))
    points = [HOME if not (360 <= i < 440) else AWAY for i in range(0, 600, 2)]
    assert of_type(replay_reports(excused, track(points, step_min=2)), "curfew_absence") == []
    assert isinstance(zone.schedule, Schedule)


def test_update_plan_keeps_state_and_applies_new_zones() -> None:
    p = plan()
    engine = Engine(p)
    reports = track([HOME] * 5 + [SCHOOL_CENTRE] * 10)
    for r in reports[:5]:
        engine.on_report(r, now=r.received)
    engine.update_plan(plan(zones=[school_zone()]))
    changes = []
    for r in reports[5:]:
        changes += engine.on_report(r, now=r.received)
    assert [c.episode.type for c in changes if c.kind == "raised"] == [AlertType.EXCLUSION_ENTRY]


def test_replay_of_a_bundle_matches_per_report_processing() -> None:
    p = plan(zones=[home_zone()])
    reports = track([HOME] * 10 + [AWAY] * 20)
    bundle = Bundle(p, list(enumerate(reports, 1)))
    assert replay(bundle) == replay_reports(p, reports)
    assert DEVICE in {a.device for a in replay(bundle)}
