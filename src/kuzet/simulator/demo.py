"""``kuzet demo``: a fresh embedded database, a seeded region, the service and a live simulated fleet.

The demo's operator, officer and supervisor work in Almaty; the administrator sees all three cities.
Passwords are generated for each fresh demo database and printed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import SYSTEM, Actor
from kuzet.settings import Settings
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.store.models import Device, Person, User

from .live import LiveStats, demo_people, run_live
from .seed import seed_people, seed_regions

console = Console()


@dataclass
class DemoSetup:
    logins: list[tuple[str, str, str]]
    secrets: dict[str, str]
    people: int
    start: datetime


def _fresh_sqlite(settings: Settings) -> None:
    path = Path(settings.database_url.split("///", 1)[-1])
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), settings.var_dir / "journal.db",
              settings.var_dir / "journal.db-wal", settings.var_dir / "journal.db-shm"):
        p.unlink(missing_ok=True)


def prepare(settings: Settings, *, wearers: int, start: datetime, fresh: bool = True) -> DemoSetup:
    """Migrate, then register the demo region, its NGO partner, its users and the simulated people (once per
    database); the first Almaty person gets a programme goal with that partner, so the partner's page shows it."""
    from kuzet.auth.service import seed_demo_users

    if fresh and settings.is_sqlite:
        _fresh_sqlite(settings)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    people = demo_people(wearers, start)
    with factory() as session, session.begin():
        regions = seed_regions(session)
        region, unit = regions["Almaty"]
        partner_id = ensure_demo_partner(session, region.id)
        logins = [(u, pw, role.value) for u, pw, role in seed_demo_users(session, region.id, unit.id,
                                                                          partner_id=partner_id)]
        officer = session.execute(select(User.id).where(User.username == "officer")).scalar_one()
        already = set(session.execute(select(Person.code)).scalars())
        todo = [p for p in people if p.code not in already]
        if todo:
            seed_people(session, todo, regions, officers={"Almaty": officer}, fitted_at=start)
        # Every Kuzet-protocol device's secret, whether registered now or by an earlier run.
        secrets = {serial: secret for serial, secret in
                   session.execute(select(Device.serial, Device.secret).where(Device.secret != "")).all()}
        _demo_goal(session, region.id, partner_id, Actor(officer, "officer", "officer"), start)
    engine.dispose()
    return DemoSetup(logins, secrets, len(people), start)


DEMO_PARTNER_NAME = "Social Support Centre (demo NGO)"


def ensure_demo_partner(session: Session, region_id: int) -> int:
    """The id of the demo region's NGO partner (created once), delivering employment, housing and documents;
    the demo ``partner`` user works for it (``kuzet demo`` and ``kuzet user demo``)."""
    from kuzet.casework import programme
    from kuzet.casework.models import Partner

    existing = session.execute(select(Partner.id).where(Partner.name == DEMO_PARTNER_NAME,
                                                        Partner.region_id == region_id)).scalar()
    if existing is not None:
        return int(existing)
    return programme.create_partner(session, SYSTEM, "ngo", DEMO_PARTNER_NAME, region_id=region_id,
                                    services=("employment", "housing", "documents"),
                                    contact="+7 727 000 00 00").id


def _demo_goal(session: Session, region_id: int, partner_id: int, officer: Actor, start: datetime) -> None:
    """One programme goal, with an action, for the first Almaty person, set by their officer and delivered by
    the demo partner."""
    from kuzet.casework import programme
    from kuzet.casework.models import ProgrammeGoal

    if session.execute(select(ProgrammeGoal.id).where(ProgrammeGoal.partner_id == partner_id)).first():
        return
    person_id = session.execute(select(Person.id).where(Person.region_id == region_id)
                                .order_by(Person.code).limit(1)).scalar()
    if person_id is None:
        return
    today = start.date()
    goal = programme.add_goal(session, officer, person_id, "employment", "find steady work within three months",
                              partner_id=partner_id, due_on=today + timedelta(days=90))
    programme.add_action(session, officer, goal.id, "job-search interview at the centre",
                         due_on=today + timedelta(days=7))


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the service did not answer on {url} within {timeout:.0f} s")


def banner(url: str, setup: DemoSetup) -> None:
    table = Table(title="Demo logins (this database only)")
    for column in ("user", "password", "role"):
        table.add_column(column)
    for user, password, role in setup.logins:
        table.add_row(user, password, role)
    console.print(f"\n[bold green]Kuzet is running:[/] open [bold]{url}/ui/map[/] "
                  f"({setup.people} people in Almaty, Astana and Shymkent; the operator and officer work in Almaty)")
    console.print(table)
    console.print("Within a minute the map is alive: a strap is opened, an exclusion zone is entered, and a "
                  "curfew starts for someone who is still out. Press Ctrl-C to stop.\n")


def drive(settings: Settings, setup: DemoSetup, *, wearers: int, minutes: float | None = None,
          speed: float = 1.0) -> LiveStats:
    """Drive the gateway named by the settings with the simulated fleet until ``minutes`` pass or Ctrl-C."""
    from kuzet.gateway.service import GatewayConfig

    stop = asyncio.Event()

    async def main() -> LiveStats:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        if minutes is not None:
            loop.call_later(minutes * 60, stop.set)
        ports = GatewayConfig.from_env(settings).ports
        return await run_live(demo_people(wearers, setup.start), secrets=setup.secrets, host=settings.gateway_host,
                              ports=ports, start=setup.start, hours=24.0, speed=speed, stop=stop,
                              on_progress=lambda s: console.print(
                                  f"[dim]sent {s.sent} reports, {s.acknowledged} acknowledged[/]"))

    stats = asyncio.run(main())
    console.print(f"simulator stopped: {stats.sent} reports sent, {stats.acknowledged} acknowledged")
    return stats


def run_demo(settings: Settings, *, wearers: int = 24, minutes: float | None = None, fresh: bool = True) -> LiveStats:
    """Run the whole demo; returns when ``minutes`` have passed (or on Ctrl-C)."""
    start = datetime.now(UTC).replace(microsecond=0)
    setup = prepare(settings, wearers=wearers, start=start, fresh=fresh)
    url = f"http://{settings.host}:{settings.port}"
    env = {**os.environ, "KUZET_DATABASE_URL": settings.database_url, "KUZET_VAR_DIR": str(settings.var_dir),
           "KUZET_HOST": settings.host, "KUZET_PORT": str(settings.port)}
    proc = subprocess.Popen([sys.executable, "-m", "kuzet.cli", "serve"], env=env)
    try:
        _wait_healthy(url, proc)
        banner(url, setup)
        return drive(settings, setup, wearers=wearers, minutes=minutes)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
