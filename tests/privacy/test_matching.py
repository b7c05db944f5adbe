"""Crime-scene matching against trails built for the test: radius and accuracy edges, window edges, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import Actor, verify
from kuzet.domain.geometry import Circle, PolygonShape
from kuzet.privacy.index import backfill_index, index_positions
from kuzet.privacy.matching import (
    ALGORITHM_VERSION,
    CrimeSceneQuery,
    MatchQueryError,
    MatchRefused,
    MatchResult,
    Proximity,
    match_crime_scene,
)
from kuzet.privacy.models import PositionCell, TrailHour
from kuzet.store.models import AuditEntry
from kuzet.store.reports import store_reports

from .factories import PROJ, SCENE, east_of_scene, fix, organisation, store_and_index, wearer

POLICE = Actor(7, "p.liaison", "police_liaison")
START = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
FITTED = START - timedelta(days=10)


def ask(session: Session, *, radius: float = 500.0, start: datetime = START, end: datetime = END,
        actor: Actor = POLICE, case: str = "KUI-2026-0412", reason: str = "burglary at the scene, 20:00-22:00"
        ) -> MatchResult:
    query = CrimeSceneQuery(Circle(centre=SCENE, radius_m=radius), start, end, case, reason)
    return match_crime_scene(session, actor, query)


def codes(people: list) -> list[str]:  # type: ignore[type-arg]
    return [p.person_code for p in people]


@pytest.fixture
def scene_trails(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Wearers placed on either side of the 500 m radius, each fix 8-10 m accurate unless stated."""
    with sessions.begin() as session:
        unit = organisation(session)
        w = {code: wearer(session, unit, code, FITTED) for code in
             ("INSIDE", "STRADDLE-IN", "STRADDLE-OUT", "OUTSIDE", "AT-START", "AT-END", "COARSE", "SILENT",
              "WALKER")}
        t = START + timedelta(minutes=30)
        rows = [
            fix(w["INSIDE"], t, *east_of_scene(480.0), 10.0),          # 480 + 10 <= 500: within
            fix(w["STRADDLE-IN"], t, *east_of_scene(495.0), 10.0),     # 495 + 10 > 500 >= 495 - 10: possibly
            fix(w["STRADDLE-OUT"], t, *east_of_scene(509.0), 10.0),    # 509 - 10 = 499 <= 500: possibly
            fix(w["OUTSIDE"], t, *east_of_scene(511.0), 10.0),         # 511 - 10 = 501 > 500: elsewhere
            fix(w["OUTSIDE"], t + timedelta(minutes=1), *east_of_scene(3000.0), 10.0),
            fix(w["AT-START"], START, *east_of_scene(100.0), 5.0),     # window start is inclusive
            fix(w["AT-END"], END, *east_of_scene(100.0), 5.0),         # window end is exclusive
            fix(w["AT-END"], END + timedelta(minutes=5), *east_of_scene(100.0), 5.0),
            fix(w["COARSE"], t, *east_of_scene(1000.0), 600.0),        # a cell-tower fix reaching the scene
            # The walker crosses the scene: the closest approach is the 2nd fix, 40 m north of the centre.
            fix(w["WALKER"], t, *east_of_scene(-300.0, 40.0), 8.0),
            fix(w["WALKER"], t + timedelta(minutes=1), *east_of_scene(0.0, 40.0), 8.0),
            fix(w["WALKER"], t + timedelta(minutes=2), *east_of_scene(300.0, 40.0), 8.0),
            fix(w["WALKER"], t + timedelta(minutes=3), *east_of_scene(900.0, 40.0), 8.0),
        ]
        store_and_index(session, rows)
    return sessions


def test_fix_whose_confidence_circle_lies_inside_the_radius_is_within(scene_trails: sessionmaker[Session]) -> None:
    with scene_trails.begin() as session:
        result = ask(session)
    assert codes(result.within) == ["WALKER", "AT-START", "INSIDE"]
    inside = next(p for p in result.within if p.person_code == "INSIDE")
    assert inside.proximity is Proximity.WITHIN
    assert inside.closest_m == pytest.approx(480.0, abs=0.01)
    assert inside.closest_accuracy_m == 10.0
    assert inside.closest_time == START + timedelta(minutes=30)


def test_fix_straddling_the_radius_is_only_possibly_within(scene_trails: sessionmaker[Session]) -> None:
    with scene_trails.begin() as session:
        result = ask(session)
    assert codes(result.possibly_within) == ["STRADDLE-IN", "STRADDLE-OUT", "COARSE"]
    coarse = result.possibly_within[-1]
    assert coarse.closest_m == pytest.approx(1000.0, abs=0.01)
    assert coarse.closest_accuracy_m == 600.0


def test_fix_beyond_radius_plus_accuracy_proves_the_person_elsewhere(scene_trails: sessionmaker[Session]) -> None:
    with scene_trails.begin() as session:
        result = ask(session)
    elsewhere = {p.person_code: p for p in result.elsewhere}
    assert set(elsewhere) == {"OUTSIDE"}
    assert elsewhere["OUTSIDE"].fixes == 2
    # A lower bound: never more than the truth (501 m to the circle's edge less nothing), never negative.
    assert 0.0 <= elsewhere["OUTSIDE"].never_closer_than_m <= 511.0


def test_window_start_is_inclusive_and_end_exclusive(scene_trails: sessionmaker[Session]) -> None:
    with scene_trails.begin() as session:
        result = ask(session)
        later = ask(session, start=END, end=END + timedelta(hours=1))
    assert "AT-START" in codes(result.within)
    assert "AT-END" not in codes(result.within + result.possibly_within)
    assert ("AT-END" in [c for _, c in result.no_data]) and "SILENT" in [c for _, c in result.no_data]
    assert codes(later.within) == ["AT-END"]
    assert later.within[0].closest_time == END
    assert later.within[0].near_fixes == 2


def test_closest_approach_is_the_nearest_fix_with_its_time(scene_trails: sessionmaker[Session]) -> None:
    with scene_trails.begin() as session:
        walker = next(p for p in ask(session).within if p.person_code == "WALKER")
    assert walker.closest_m == pytest.approx(40.0, abs=0.01)
    assert walker.closest_time == START + timedelta(minutes=31)
    assert walker.near_fixes == 3
    assert walker.first_near == START + timedelta(minutes=30)
    assert walker.last_near == START + timedelta(minutes=32)


def test_polygon_place_uses_the_confidence_circle_too(scene_trails: sessionmaker[Session]) -> None:
    # A 1 km square centred on the scene: edges 500 m east, west, north and south.
    ring = [PROJ.inverse(x, y) for x, y in ((-500, -500), (500, -500), (500, 500), (-500, 500), (-500, -500))]
    place = PolygonShape(rings=(tuple(ring),))
    with scene_trails.begin() as session:
        result = match_crime_scene(session, POLICE, CrimeSceneQuery(place, START, END, "KUI-1", "polygon scene"))
    assert set(codes(result.within)) == {"INSIDE", "AT-START", "WALKER"}
    assert set(codes(result.possibly_within)) == {"STRADDLE-IN", "STRADDLE-OUT", "COARSE"}
    assert [p.person_code for p in result.elsewhere] == ["OUTSIDE"]


def test_only_a_police_liaison_with_case_reference_and_reason_may_ask(scene_trails: sessionmaker[Session]) -> None:
    for role in ("officer", "supervisor", "administrator", "auditor", "operator", "analyst", "partner"):
        with scene_trails() as session, pytest.raises(MatchRefused, match="police_liaison"):
            ask(session, actor=Actor(1, "someone", role))
    with scene_trails() as session, pytest.raises(MatchRefused, match="case reference"):
        ask(session, case="  ")
    with scene_trails() as session, pytest.raises(MatchRefused, match="reason"):
        ask(session, reason="")
    with scene_trails() as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action.like("crime_match%"))).scalar() == 0


def test_every_query_and_its_answer_go_to_the_audit_trail(scene_trails: sessionmaker[Session]) -> None:
    with scene_trails.begin() as session:
        result = ask(session)
    with scene_trails() as session:
        entry = session.get(AuditEntry, result.audit_id)
        assert entry is not None
        assert (entry.action, entry.username, entry.role) == ("crime_match", "p.liaison", "police_liaison")
        assert entry.object_id == "KUI-2026-0412"
        assert entry.purpose == "burglary at the scene, 20:00-22:00"
        assert entry.detail["algorithm_version"] == ALGORITHM_VERSION
        assert [p["person_code"] for p in entry.detail["within"]] == codes(result.within)
        assert entry.detail["elsewhere"] == ["OUTSIDE"]
        disclosures = session.execute(select(AuditEntry).where(AuditEntry.action == "crime_match_disclosure")
                                      ).scalars().all()
        near_ids = {p.person_id for p in result.within + result.possibly_within}
        assert {d.subject_person_id for d in disclosures} == near_ids
        assert all(d.detail["query_audit_id"] == result.audit_id for d in disclosures)
        assert verify(session).ok
    assert result.algorithm_version == ALGORITHM_VERSION


def test_a_question_too_long_or_backwards_is_refused() -> None:
    with pytest.raises(MatchQueryError, match="at most"):
        CrimeSceneQuery(Circle(centre=SCENE, radius_m=500), START, START + timedelta(days=8), "K-1", "too long")
    with pytest.raises(MatchQueryError, match="end after"):
        CrimeSceneQuery(Circle(centre=SCENE, radius_m=500), START, START, "K-1", "empty window")
    with pytest.raises(MatchQueryError, match="timezone-aware"):
        CrimeSceneQuery(Circle(centre=SCENE, radius_m=500), datetime(2026, 5, 4), END, "K-1", "naive")


def test_indexing_twice_changes_nothing_and_backfill_catches_up(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        unit = organisation(session)
        w = wearer(session, unit, "BACKFILL", FITTED)
        rows = [fix(w, START + timedelta(minutes=i), *east_of_scene(10.0 * i), 9.0) for i in range(90)]
        store_reports(session, rows)  # stored by a pipeline that did not index yet
        assert backfill_index(session) == 90
        assert index_positions(session, rows) == 0
        assert backfill_index(session) == 0
        hours = session.execute(select(TrailHour).order_by(TrailHour.hour)).scalars().all()
        assert [(h.hour, h.fixes) for h in hours] == [(START, 60), (START + timedelta(hours=1), 30)]
        assert session.execute(select(func.count()).select_from(PositionCell)).scalar() == 90
        result = ask(session, radius=200.0)
    assert codes(result.within) == ["BACKFILL"]
    assert result.within[0].near_fixes == 21  # 0..200 m east touch the circle (200 - 9 <= 200)


def test_a_fix_too_coarse_for_any_cell_level_is_still_considered(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        unit = organisation(session)
        w = wearer(session, unit, "VAGUE", FITTED)
        far = wearer(session, unit, "FAR", FITTED)
        store_and_index(session, [fix(w, START + timedelta(minutes=1), *east_of_scene(4000.0), 5000.0),
                                  fix(far, START + timedelta(minutes=1), *east_of_scene(9000.0), 5000.0)])
        assert session.execute(select(PositionCell.cell).order_by(PositionCell.report_id)).scalars().all() == [0, 0]
        result = ask(session)
    assert codes(result.possibly_within) == ["VAGUE"]
    assert [p.person_code for p in result.elsewhere] == ["FAR"]
