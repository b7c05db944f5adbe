"""Alert volume per wearer per day on the example bundles, and the ``kuzet alerts`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from kuzet.alerts.models import EscalationEvent
from kuzet.alerts.volume import bundle_volume, count_incidents
from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import AlertType, Severity
from kuzet.exchange import read_bundle
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from tests.conftest import example_bundles

from .factories import T0, alert, centre, person

KUZET = Path(sys.executable).with_name("kuzet")


def _episode(subject: str, start_min: int, end_min: int | None, kind: AlertType = AlertType.CURFEW_ABSENCE
             ) -> AlertEpisode:
    start = T0 + timedelta(minutes=start_min)
    return AlertEpisode(subject, kind, start, start, Severity.HIGH, "home",
                        None if end_min is None else T0 + timedelta(minutes=end_min))


def test_alerts_close_in_time_form_one_incident_per_person() -> None:
    alerts = [_episode("A", 0, 10), _episode("A", 60, 70, AlertType.STRAP_TAMPER), _episode("A", 60 * 5, 60 * 5 + 1),
              _episode("B", 0, None), _episode("B", 60 * 10, 60 * 11)]
    # A: 0-10 and 60-70 together, 5 h later apart; B: the first is still going on, so the second joins it.
    assert count_incidents(alerts) == 3


def test_the_truth_of_every_example_bundle_has_a_volume_per_wearer_day() -> None:
    for path in example_bundles():
        bundle = read_bundle(path, with_truth=True)
        volume = bundle_volume(bundle, alerts=bundle.truth)
        assert volume.wearers == len(bundle.plan.subjects) and volume.days > 1
        assert volume.alerts == len(bundle.truth) and 0 < volume.incidents <= volume.alerts
        assert volume.alerts_per_wearer_day == volume.alerts / (volume.wearers * volume.days)


def test_the_commands_escalate_and_report_volume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    raised = datetime(2026, 11, 2, 17, 5, tzinfo=UTC)
    with factory() as s, s.begin():
        c = centre(s)
        alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None, raised_at=raised)
    env = {**os.environ, "KUZET_DATABASE_URL": url}
    early = subprocess.run([str(KUZET), "alerts", "escalate", "--now", "2026-11-02T17:09:00Z"], env=env,
                           capture_output=True, text=True, timeout=60, check=True)
    assert "0 escalation step(s)" in early.stdout
    due = subprocess.run([str(KUZET), "alerts", "escalate", "--now", "2026-11-02T17:10:00Z"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    assert "acknowledgement_missed, level 1" in due.stdout
    with factory() as s:
        assert len(s.execute(select(EscalationEvent)).scalars().all()) == 1
    engine.dispose()
    out = subprocess.run([str(KUZET), "alerts", "volume", "--truth", str(example_bundles()[0])], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    assert example_bundles()[0].name in out.stdout and "truth" in out.stdout
