"""Gateway benchmark: many concurrent Teltonika devices over real TCP, reports per second and ACK latency.

    .venv/bin/python benchmarks/gateway.py            # 1,000 devices x 20 frames x 5 records, SQLite store sink
    .venv/bin/python benchmarks/gateway.py --quick    # 100 devices x 5 frames
    .venv/bin/python benchmarks/gateway.py --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The gateway runs in its own process (``--serve``) with the store sink on a fresh database holding the fleet;
the devices run in this process, one TCP connection each, and send their next frame as soon as the previous one
was acknowledged. Every acknowledged record is checked to be in the store exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kuzet.domain.enums import Source
from kuzet.domain.reports import DeviceReport
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.migrate import upgrade
from kuzet.store.models import Device, DeviceReportRecord, DeviceType

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def serial(i: int) -> str:
    return f"35630704{i:07d}"


def prepare(url: str, devices: int) -> None:
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as s:
        type_id = s.execute(select(DeviceType.id).order_by(DeviceType.id)).scalars().first()
        s.add_all(Device(serial=serial(i), type_id=type_id, protocol="teltonika", status="fitted")
                  for i in range(devices))


async def serve(url: str, sink_name: str) -> None:
    from kuzet.gateway import Gateway, GatewayConfig, Limits, StoreSink

    ports: dict[str, int | None] = {name: None for name in ("gt06", "h02", "watch", "osmand", "kuzet_tcp",
                                                            "kuzet_https")}
    ports["teltonika"] = 0
    config = GatewayConfig(ports=ports, limits=Limits(idle_timeout_s=120))
    sink: Any
    if sink_name == "journal":
        from kuzet.journal.embedded import EmbeddedJournal

        sink = EmbeddedJournal(url.split("///", 1)[-1] + ".journal")
        await sink.start()
    else:
        sink = StoreSink(session_factory(make_engine(url)))
    gateway = Gateway(sink, config=config, database_url=url)
    await gateway.start()
    print(json.dumps({"port": gateway.ports["teltonika"]}), flush=True)

    async def progress() -> None:
        while True:
            await asyncio.sleep(5)
            print(f"gateway: {gateway.stats}", file=sys.stderr, flush=True)

    ticker = asyncio.create_task(progress())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    ticker.cancel()
    await gateway.stop()
    await sink.close()


def fleet_reports(devices: int, frames: int, per_frame: int) -> list[DeviceReport]:
    out = []
    for k in range(frames * per_frame):
        for i in range(devices):
            out.append(DeviceReport(device=serial(i), time=T0 + timedelta(seconds=30 * k), received=T0,
                                    lat=43.2 + i * 1e-4, lon=76.9 + k * 1e-5, source=Source.GPS, satellites=9,
                                    speed_kmh=4.0, heading_deg=90.0, battery_pct=80.0))
    return out


def run(args: argparse.Namespace, url: str) -> dict[str, object]:
    from kuzet.gateway.speakers import TeltonikaSpeaker
    from kuzet.pipeline.fleet import FleetResult, drive

    server = subprocess.Popen([sys.executable, __file__, "--serve", url, "--sink", args.sink], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        reports = fleet_reports(args.devices, args.frames, args.records)

        async def devices() -> FleetResult:
            return await drive(reports, TeltonikaSpeaker(), "127.0.0.1", port, records_per_frame=args.records,
                               rate=args.rate)

        started = time.perf_counter()
        result = asyncio.run(devices())
        elapsed = time.perf_counter() - started
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(30)
    if args.sink == "journal":
        import sqlite3

        with sqlite3.connect(url.split("///", 1)[-1] + ".journal") as conn:
            stored = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
    else:
        with session_factory(make_engine(url))() as s:
            stored = s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar_one()
    latencies = sorted(result.ack_latencies)
    return {
        "devices": args.devices, "frames_per_device": args.frames, "records_per_frame": args.records,
        "sink": args.sink, "offered_rate": args.rate, "database": url.split(":", 1)[0],
        "reports": result.acknowledged_count, "stored": stored,
        "frames": result.frames, "refused": result.refused, "seconds": round(elapsed, 2),
        "reports_per_s": round(result.acknowledged_count / elapsed),
        "frames_per_s": round(result.frames / elapsed),
        "ack_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "ack_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 devices x 5 frames")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=20, help="frames per device")
    parser.add_argument("--records", type=int, default=5, help="records per frame")
    parser.add_argument("--database", default=None, help="PostgreSQL admin URL (default: a temporary SQLite file)")
    parser.add_argument("--rate", type=float, default=None,
                        help="offered load in reports/s (default: closed loop, each device as fast as it is acked)")
    parser.add_argument("--sink", choices=["store", "journal"], default="store",
                        help="store: StoreSink into the database; journal: the embedded journal (SQLite file)")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.sink))
        return
    if args.quick:
        args.devices, args.frames = 100, 5
    with tempfile.TemporaryDirectory() as tmp:
        if args.database:
            import psycopg

            name = f"kuzet_bench_{uuid.uuid4().hex[:8]}"
            admin = args.database.replace("+psycopg", "")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = args.database.rsplit("/", 1)[0] + "/" + name
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        try:
            prepare(url, args.devices)
            outcome = run(args, url)
        finally:
            if args.database:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(outcome))
    # The store keeps each report once; the journal is at-least-once (a resend after a lost ACK is appended
    # again and deduplicated downstream), so it may hold more.
    stored, acked = int(outcome["stored"]), int(outcome["reports"])  # type: ignore[call-overload]
    if stored < acked or (args.sink == "store" and stored != acked):
        sys.exit(f"acknowledged {acked} reports but {stored} are stored")


if __name__ == "__main__":
    os.environ.setdefault("KUZET_MODE", "dev")
    main()
