"""Run real `kuzet` processes for the fault tests and drive them with real device connections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from kuzet.domain.enums import Category, Closure, Source, ZoneKind
from kuzet.domain.geometry import shape_from_geojson
from kuzet.domain.plan import DeviceRef, MonitoringPlan, Subject, Zone
from kuzet.domain.reports import DeviceReport
from kuzet.exchange.bundle import Bundle
from kuzet.exchange.store_io import import_bundle, plan_for_people, record_to_report
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.migrate import upgrade
from kuzet.store.models import AlertRecord, DeviceReportRecord, Person

from .services import free_port

OTHER_LISTENERS = ("gt06", "h02", "watch", "osmand", "kuzet_tcp", "kuzet_https")


def device_id(i: int) -> str:
    return f"35{i:013d}"


def home(i: int) -> tuple[float, float]:
    return 76.80 + (i % 100) * 0.003, 43.20 + (i // 100) * 0.003


def plan(wearers: int) -> MonitoringPlan:
    subjects = []
    for i in range(wearers):
        lon, lat = home(i)
        zones = (
            Zone("home", ZoneKind.INCLUSION, shape_from_geojson(
                {"type": "Circle", "coordinates": [lon, lat], "radius_m": 150}), None, timedelta(seconds=300)),
            Zone("school", ZoneKind.EXCLUSION, shape_from_geojson({"type": "Polygon", "coordinates": [[
                [lon + 0.010, lat], [lon + 0.012, lat], [lon + 0.012, lat + 0.002], [lon + 0.010, lat + 0.002],
                [lon + 0.010, lat]]]}), None, timedelta(seconds=60)))
        subjects.append(Subject(f"F-{i:05d}", Category.PAROLE, (DeviceRef(device_id(i), "gps_bracelet"),), zones,
                                (), timedelta(hours=12)))
    return MonitoringPlan("Asia/Almaty", tuple(subjects))


def stream(wearers: int, per_device: int, start: datetime) -> list[DeviceReport]:
    """Each device reports every 15 s; every 7th visits the exclusion zone for 5 minutes in the middle, every
    10th opens its strap for three reports."""
    out = []
    for n in range(per_device):
        for i in range(wearers):
            lon, lat = home(i)
            strap = Closure.CLOSED
            if i % 7 == 0 and per_device // 3 <= n < per_device // 3 + 20:
                lon, lat = lon + 0.011, lat + 0.001
            if i % 10 == 3 and per_device // 2 <= n < per_device // 2 + 3:
                strap = Closure.OPEN
            at = start + timedelta(seconds=15 * n + (i % 15))
            out.append(DeviceReport(device=device_id(i), time=at, received=at, lat=lat, lon=lon, accuracy_m=6.0,
                                    source=Source.GPS, satellites=10, battery_pct=90.0, strap=strap,
                                    case=Closure.CLOSED))
    return out


def seed(url: str, wearers: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        import_bundle(s, Bundle(plan(wearers)), region_code="FAULT",
                      fitted_at=datetime.now(UTC) - timedelta(days=2))
    engine.dispose()


def service_env(var_dir: Path, database_url: str, teltonika_port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ, KUZET_VAR_DIR=str(var_dir), KUZET_DATABASE_URL=database_url,
               KUZET_PORT=str(free_port()), KUZET_GATEWAY_TELTONIKA_PORT=str(teltonika_port),
               KUZET_GATEWAY_MQTT="off", KUZET_JOURNAL_URL="embedded")
    for name in OTHER_LISTENERS:
        env[f"KUZET_GATEWAY_{name.upper()}_PORT"] = "off"
    env.update(extra)
    return env


class Service:
    """One `kuzet ...` process; ``start`` returns when it announced that it is ready."""

    def __init__(self, args: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.args = list(args)
        self.env = env
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}
        self.starts = 0

    async def start(self, timeout_s: float = 60.0) -> dict[str, Any]:
        self.starts += 1
        log = self.cwd / f"kuzet-{self.args[0]}-{id(self):x}-{self.starts}.log"  # its stderr, for a failure's story
        with log.open("wb") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kuzet.cli", *self.args, env=self.env, cwd=self.cwd,
                stdout=asyncio.subprocess.PIPE, stderr=stderr)
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"kuzet {' '.join(self.args)} exited before it was ready; its log: "
                                       f"{log.read_text(errors='replace')[-3000:]}")
                with contextlib.suppress(orjson.JSONDecodeError):
                    event = orjson.loads(line)
                    if isinstance(event, dict) and event.get("event") == "ready":
                        self.ready = event
                        return event

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def wait(self) -> None:
        if self.proc is not None:
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def stored(url: str) -> tuple[list[DeviceReport], list[AlertRecord], MonitoringPlan]:
    engine = make_engine(url)
    with session_factory(engine)() as s:
        rows = list(s.execute(select(DeviceReportRecord).order_by(DeviceReportRecord.received,
                                                                  DeviceReportRecord.id)).scalars())
        reports = [record_to_report(r) for r in rows]
        alerts = list(s.execute(select(AlertRecord)).scalars())
        people = list(s.execute(select(Person).order_by(Person.id)).scalars())
        the_plan = plan_for_people(s, people)
    engine.dispose()
    return reports, alerts, the_plan


def count_stored(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            from sqlalchemy import func

            return int(s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar_one())
    except Exception:
        return -1
    finally:
        engine.dispose()


def episode_keys(alerts: Sequence[Any]) -> set[tuple[Any, ...]]:
    """What must be equal between runs: subject, type, target, event-time start and end."""
    out = set()
    for a in alerts:
        subject = getattr(a, "subject_code", None) or a.subject
        atype = a.type if isinstance(a.type, str) else a.type.value
        out.add((subject, atype, a.target, a.start, a.end))
    return out
