""""What if": an edited zone is replayed against the person's recent trail before it is saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.access import AccessDenied, NotVisible
from kuzet.auth.service import find_user, principal_for
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.store.models import ZoneRecord
from kuzet.web.services.people import ZoneInput
from kuzet.web.services.whatif import what_if

from .world import ALMATY, add_fix, build_world

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[sessionmaker[Session], dict[str, int]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('whatif') / 'k.db'}"
    upgrade(url)
    factory = session_factory(make_engine(url))
    world = build_world(factory, fixes_per_person=2)
    for k in range(30):  # an hour and a half at the market, a week ago
        add_fix(factory, "N-A", world.people["N-A"], 2000 + k, 76.9500 + 0.00001 * k, 43.2600,
                NOW - timedelta(days=7) + timedelta(minutes=3 * k))
    return factory, world.people


def _zone(lon: float, lat: float, kind: str = "exclusion") -> ZoneInput:
    return ZoneInput("market", kind, {"type": "Circle", "coordinates": [lon, lat], "radius_m": 120}, None, 60.0)


def test_an_exclusion_zone_over_where_the_person_went_would_have_raised_an_alert(
        setup: tuple[sessionmaker[Session], dict[str, int]]) -> None:
    factory, people = setup
    with factory() as s:
        officer = principal_for(find_user(s, "officer_n1"))  # type: ignore[arg-type]
        result = what_if(s, officer, people["N-A"], _zone(76.9502, 43.2600), now=NOW)
        assert result.fixes == 30 and result.engine == "kuzet"
        assert len(result.edited) > len(result.current)
        assert any(e.type == "exclusion_entry" for e in result.edited)
        elsewhere = what_if(s, officer, people["N-A"], _zone(ALMATY[0] - 0.2, ALMATY[1]), now=NOW)
        assert len(elsewhere.edited) == len(elsewhere.current)
        zones = s.execute(select(func.count()).select_from(ZoneRecord).where(ZoneRecord.code == "market")).scalar()
        assert zones == 0, "a what-if check never saves the zone"


def test_the_what_if_check_respects_scope_and_role(setup: tuple[sessionmaker[Session], dict[str, int]]) -> None:
    factory, people = setup
    with factory() as s:
        other = principal_for(find_user(s, "officer_n1b"))  # type: ignore[arg-type]
        with pytest.raises(NotVisible):
            what_if(s, other, people["N-A"], _zone(76.95, 43.26), now=NOW)
        operator = principal_for(find_user(s, "operator_n"))  # type: ignore[arg-type]
        with pytest.raises(AccessDenied):
            what_if(s, operator, people["N-A"], _zone(76.95, 43.26), now=NOW)


def test_a_window_outside_the_visit_raises_nothing(setup: tuple[sessionmaker[Session], dict[str, int]]) -> None:
    factory, people = setup
    visit_local_hour = (NOW - timedelta(days=7)).astimezone(ZoneInfo("Asia/Almaty")).hour
    start = f"{(visit_local_hour + 6) % 24:02d}:00"
    end = f"{(visit_local_hour + 7) % 24:02d}:00"
    with factory() as s:
        officer = principal_for(find_user(s, "officer_n1"))  # type: ignore[arg-type]
        zone = ZoneInput("market", "exclusion", {"type": "Circle", "coordinates": [76.9502, 43.26], "radius_m": 120},
                         [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": start, "end": end}],
                         60.0)
        result = what_if(s, officer, people["N-A"], zone, now=NOW)
        assert not [e for e in result.edited if e.type == "exclusion_entry"]
