"""An authorised absence is honoured by the engine: replaying a bundle with and without it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.alerts.absences import grant_absence
from kuzet.auth.service import principal_for
from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import AlertType, Role
from kuzet.domain.plan import MonitoringPlan
from kuzet.engine import replay
from kuzet.exchange import read_bundle
from kuzet.exchange.bundle import Bundle
from kuzet.exchange.store_io import import_bundle, plan_for_people
from kuzet.store.models import Person
from tests.conftest import EXAMPLES

from .factories import user


def _overlaps(a: AlertEpisode, start: object, end: object) -> bool:
    assert a.start is not None
    return a.start < end and (a.end is None or a.end > start)  # type: ignore[operator]


def test_a_curfew_absence_is_not_raised_during_an_authorised_absence_and_is_without_it(
        sqlite_sessions: sessionmaker[Session]) -> None:
    bundle = read_bundle(EXAMPLES / "clean", with_truth=True)
    truth = next(t for t in bundle.truth if t.type is AlertType.CURFEW_ABSENCE and not t.extra.get("ambiguous"))
    assert truth.end is not None
    start, end = truth.start - timedelta(minutes=20), truth.end + timedelta(minutes=20)
    with sqlite_sessions() as s, s.begin():
        import_bundle(s, Bundle(bundle.plan, []), region_code="ALA")  # people and zones; reports stay in memory
        people = list(s.execute(select(Person).order_by(Person.id)).scalars())
        wearer = next(p for p in people if p.code == truth.subject)
        before = plan_for_people(s, people)
        officer = user(s, "ala.officer", Role.OFFICER, None)
        officer.region_id, officer.unit_id = wearer.region_id, wearer.unit_id
        wearer.officer_id = officer.id
        s.flush()
        grant_absence(s, principal_for(officer), wearer.id, start, end, "hospital", "emergency admission",
                      now=start - timedelta(hours=1))
        after = plan_for_people(s, people)
    # Only the wearer's own devices matter here; replaying just them keeps the test quick.
    [subject] = [x for x in before.subjects if x.id == truth.subject]
    serials = {d.id for d in subject.devices} | {p.device for p in subject.protected_persons}
    reports = [(n, r) for n, r in bundle.reports if r.device in serials]

    def only(plan: MonitoringPlan) -> MonitoringPlan:
        return MonitoringPlan(plan.timezone, tuple(x for x in plan.subjects if x.id == truth.subject))

    without = replay(Bundle(only(before), reports))
    with_absence = replay(Bundle(only(after), reports))

    def curfew(alerts: list[AlertEpisode]) -> list[AlertEpisode]:
        return [a for a in alerts if a.subject == truth.subject and a.type is AlertType.CURFEW_ABSENCE
                and _overlaps(a, start, end)]

    assert curfew(without), "the engine should raise the curfew absence when no absence is granted"
    assert curfew(with_absence) == []
    # The absence lifts nothing but the inclusion zone during its interval.
    others = [a.key for a in without if a not in curfew(without)]
    assert [a.key for a in with_absence] == others
