"""Pipeline benchmark: device frame in, ACK out, position and alert stored.

Measures, on this machine:
- the journals alone: appends per second from many concurrent connections (group commit; NATS publish acks);
- the monitor alone: reports per second from the journal into the store (SQLite; PostgreSQL);
- end to end through real TCP device connections and a real ``kuzet serve`` (embedded) or ``kuzet gateway`` +
  two ``kuzet monitor`` processes (NATS + PostgreSQL): reports per second with multi-record frames and with
  one-record frames, and the p50/p99 time from a violating report's arrival to its alert being stored at
  3,300 reports a second;
- ``--layout``: the PostgreSQL positions layouts of docs/decisions/003-positions-layout.md.

Run: ``python benchmarks/pipeline.py [--quick] [--only journal,monitor,e2e,layout] [--e2e LAYOUTS]``
(end-to-end layouts: ``embedded``, ``embedded-two-processes`` (``kuzet serve --no-monitor`` + ``kuzet
monitor`` on the embedded journal), ``nats+postgresql``). Results are printed as a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from kuzet.domain.enums import Category, Closure, Source, ZoneKind
from kuzet.domain.geometry import shape_from_geojson
from kuzet.domain.plan import DeviceRef, MonitoringPlan, Subject, Zone
from kuzet.domain.reports import DeviceReport
from kuzet.exchange.bundle import Bundle
from kuzet.exchange.store_io import import_bundle
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.migrate import upgrade

PG_ADMIN = os.environ.get("KUZET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS: list[tuple[str, str, str]] = []


def row(what: str, value: str, note: str = "") -> None:
    ROWS.append((what, value, note))
    print(f"  {what}: {value} {note}", flush=True)


# -- data ------------------------------------------------------------------------------------------------
def wearer_plan(wearers: int) -> MonitoringPlan:
    """Wearers in Almaty, each with an always-on home zone and one exclusion zone elsewhere."""
    subjects = []
    for i in range(wearers):
        lon, lat = 76.80 + (i % 100) * 0.002, 43.20 + (i // 100) * 0.002
        home = Zone("home", ZoneKind.INCLUSION,
                    shape_from_geojson({"type": "Circle", "coordinates": [lon, lat], "radius_m": 150}),
                    None, timedelta(seconds=300))
        school = Zone("school", ZoneKind.EXCLUSION, shape_from_geojson(
            {"type": "Polygon", "coordinates": [[[lon + 0.01, lat], [lon + 0.011, lat], [lon + 0.011, lat + 0.001],
                                                 [lon + 0.01, lat + 0.001], [lon + 0.01, lat]]]}),
            None, timedelta(seconds=60))
        subjects.append(Subject(f"B-{i:06d}", Category.PAROLE, (DeviceRef(device_id(i), "gps_bracelet"),),
                                (home, school), (), timedelta(hours=6)))
    return MonitoringPlan("Asia/Almaty", tuple(subjects))


def device_id(i: int) -> str:
    return f"35{i:013d}"


def reports_for(wearers: int, count: int, *, start: datetime, violating_every: int = 0) -> list[DeviceReport]:
    """``count`` reports round-robin over the wearers, at home; every ``violating_every``-th device opens its
    strap once (an alert with no grace). The openings are spread evenly over the middle half of the run, as
    alerts arrive in service, not all in the same second (a burst of hundreds of alerts in one second measures
    the alert workflow's queueing, not the time an alert takes)."""
    out = []
    per = max(1, count // wearers)
    violators = max(1, wearers // violating_every) if violating_every else 1
    for k in range(count):
        i, n = k % wearers, k // wearers
        lon, lat = 76.80 + (i % 100) * 0.002, 43.20 + (i // 100) * 0.002
        strap = Closure.CLOSED
        if violating_every and i % violating_every == 0 and \
                n == per // 4 + (i // violating_every) * (per // 2) // violators:
            strap = Closure.OPEN
        at = start + timedelta(seconds=n * 15)
        out.append(DeviceReport(device=device_id(i), seq=n + 1, time=at, received=at, lat=lat, lon=lon,
                                accuracy_m=8.0, source=Source.GPS, satellites=9, battery_pct=80.0, charging=False,
                                strap=strap, case=Closure.CLOSED))
    return out


def seed_store(url: str, wearers: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        import_bundle(session, Bundle(wearer_plan(wearers)), region_code="BENCH",
                      fitted_at=datetime.now(UTC) - timedelta(days=1))
    engine.dispose()


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    name = f"kuzet_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- components ------------------------------------------------------------------------------------------
async def bench_journal(quick: bool) -> None:
    from kuzet.journal.embedded import EmbeddedJournal
    from kuzet.journal.nats import NatsJournal

    start = datetime.now(UTC)
    connections = 500
    for per_frame in (1, 10):
        frames = (20_000 if quick else 60_000) // per_frame
        reps = reports_for(connections, frames * per_frame, start=start)
        by_dev: dict[str, list[DeviceReport]] = {}
        for r in reps:
            by_dev.setdefault(r.device, []).append(r)
        for kind in ("embedded", "nats"):
            tmp = tempfile.mkdtemp()
            journal: Any = (EmbeddedJournal(f"{tmp}/journal.db") if kind == "embedded" else
                            NatsJournal("nats://127.0.0.1:4222", stream=f"KZT_BENCH_{uuid.uuid4().hex[:8].upper()}"))
            await journal.start()

            async def conn(mine: list[DeviceReport], j: Any = journal, k: int = per_frame) -> None:
                for i in range(0, len(mine), k):
                    await j.append(mine[i:i + k], protocol="teltonika")

            t = time.perf_counter()
            await asyncio.gather(*(conn(m) for m in by_dev.values()))
            dt = time.perf_counter() - t
            note = ""
            if kind == "embedded":
                note = f"({journal.stats.commits} commits, up to {journal.stats.largest} records each)"
            row(f"journal append, {kind}, {per_frame} record(s)/frame, {connections} connections",
                f"{len(reps) / dt:,.0f} reports/s", note)
            if kind == "nats":
                await journal.delete_stream()
            await journal.close()


async def bench_monitor(quick: bool) -> None:
    from kuzet.journal.embedded import EmbeddedJournal
    from kuzet.monitor.service import Monitor

    wearers = 1000
    count = 20_000 if quick else 60_000
    start = datetime.now(UTC) - timedelta(hours=3)
    for backend in ("sqlite", "postgresql"):
        with contextlib.ExitStack() as stack:
            tmp = tempfile.mkdtemp()
            url = f"sqlite:///{tmp}/kuzet.db" if backend == "sqlite" else stack.enter_context(pg_database())
            seed_store(url, wearers)
            journal = EmbeddedJournal(f"{tmp}/journal.db")
            await journal.start()
            reps = reports_for(wearers, count, start=start)
            for i in range(0, len(reps), 2000):
                await journal.append(reps[i:i + 2000], protocol="teltonika")
            engine = make_engine(url)
            monitor = Monitor(session_factory(engine), journal, clock=lambda s=start: s + timedelta(hours=1))
            stop = asyncio.Event()
            t = time.perf_counter()
            task = asyncio.create_task(monitor.run(stop))
            while monitor.stats.reports < count:  # noqa: ASYNC110 - polls a counter
                await asyncio.sleep(0.01)
            dt = time.perf_counter() - t
            stop.set()
            await task
            await journal.close()
            engine.dispose()
            row(f"monitor alone, {backend} store, {wearers} wearers", f"{count / dt:,.0f} reports/s",
                f"(engine + positions + checkpoints, {monitor.stats.batches} transactions)")


def bench_layout() -> None:
    """Plain vs daily-partitioned positions on PostgreSQL: insert, purge, trail read."""
    n, days = 600_000, 30
    with pg_database() as url, psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as c:
        cols = ("dedup_key varchar(160), device varchar(64), person_id int, time timestamptz, lat float8, "
                "lon float8, extra jsonb")
        c.execute(f"CREATE TABLE plain (id bigserial PRIMARY KEY, {cols}, UNIQUE (dedup_key))")
        c.execute(f"CREATE TABLE part (id bigserial, {cols}, PRIMARY KEY (id, time), UNIQUE (dedup_key, time)) "
                  "PARTITION BY RANGE (time)")
        for d in range(days):
            c.execute(f"CREATE TABLE part_{d} PARTITION OF part FOR VALUES FROM "
                      f"('2026-10-01'::timestamptz + interval '{d} day') TO "
                      f"('2026-10-01'::timestamptz + interval '{d + 1} day')")
        for table in ("plain", "part"):
            c.execute(f"CREATE INDEX ON {table} (person_id, time)")
            c.execute(f"CREATE INDEX ON {table} (device, time)")
            t = time.perf_counter()
            step = days * 86400 / n
            with c.cursor() as cur:
                for b in range(0, n, 5000):
                    cur.executemany(
                        f"INSERT INTO {table} (dedup_key, device, person_id, time, lat, lon, extra) VALUES "
                        f"(%s, %s, %s, '2026-10-01'::timestamptz + (%s * interval '{step} second'), 43.0, 76.0, "
                        "'{}') ON CONFLICT DO NOTHING",
                        [(f"d{i % 5000}#{i}", f"d{i % 5000}", i % 5000, i) for i in range(b, b + 5000)])
            row(f"positions insert, PostgreSQL {table}", f"{n / (time.perf_counter() - t):,.0f} rows/s")
        t = time.perf_counter()
        deleted = c.execute("DELETE FROM plain WHERE time < '2026-10-11'").rowcount
        row("purge 10 days, plain table (DELETE)", f"{time.perf_counter() - t:.3f} s", f"({deleted:,} rows)")
        t = time.perf_counter()
        for d in range(10):
            c.execute(f"DROP TABLE part_{d}")
        row("purge 10 days, daily partitions (DROP)", f"{time.perf_counter() - t:.3f} s")


# -- end to end -------------------------------------------------------------------------------------------
OTHER_LISTENERS = ("gt06", "h02", "watch", "osmand", "kuzet_tcp", "kuzet_https")


def run_async(main: Any) -> Any:
    """The load generator runs on uvloop too, so that its own cost takes as little of the shared cores as it
    can (the frames are encoded before the clock starts)."""
    import uvloop

    return uvloop.run(main)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str], cwd: str) -> subprocess.Popen[str]:
    # Each process's log goes to a file in its directory, to read when a run goes wrong.
    log = open(Path(cwd) / f"kuzet-{args[0]}-{len(list(Path(cwd).glob('kuzet-*.log')))}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "kuzet.cli", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=log)
    log.close()
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"ready"' in line:
            return proc
    raise RuntimeError(f"kuzet {' '.join(args)} did not start")


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def store_count(url: str) -> int:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM device_reports")).scalar_one())
    finally:
        engine.dispose()


def alert_latencies(url: str) -> list[float]:
    """Seconds from the arrival of each strap-opening report to its strap-tamper episode being stored."""
    from sqlalchemy import select

    from kuzet.store.models import AlertRecord, DeviceReportRecord

    engine = make_engine(url)
    out = []
    with session_factory(engine)() as s:
        arrivals: dict[str, datetime] = {}
        for device, received in s.execute(select(DeviceReportRecord.device, DeviceReportRecord.received)
                                          .where(DeviceReportRecord.strap == "open")
                                          .order_by(DeviceReportRecord.received)):
            arrivals.setdefault(device, received)
        for device, created in s.execute(select(AlertRecord.device, AlertRecord.created_at)
                                         .where(AlertRecord.type == "strap_tamper")):
            if device in arrivals:
                out.append((created - arrivals[device]).total_seconds())
    engine.dispose()
    return sorted(out)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def bare_server(port: int) -> None:
    """The reference: a Teltonika peer that only frames and acknowledges (no decoding, no journal, no
    monitor), on uvloop in its own process. What it sustains is what this machine's sockets, event loop and
    load generator allow, against which the gateway's figures can be read."""
    import uvloop

    class Peer(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buf, self.logged_in = transport, bytearray(), False

        def data_received(self, data: bytes) -> None:
            self.buf += data
            if not self.logged_in and len(self.buf) >= 2:
                size = 2 + int.from_bytes(self.buf[:2], "big")
                if len(self.buf) >= size:
                    del self.buf[:size]
                    self.logged_in = True
                    self.transport.write(b"\x01")
            while self.logged_in and len(self.buf) >= 12:
                size = 12 + int.from_bytes(self.buf[4:8], "big")
                if len(self.buf) < size:
                    break
                count = self.buf[9]
                del self.buf[:size]
                self.transport.write(count.to_bytes(4, "big"))

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Peer, "127.0.0.1", port, backlog=4096)
        print('{"event": "ready"}', flush=True)
        await server.serve_forever()

    uvloop.run(main())


def e2e_layout(kind: str, tmp: str, url: str, wearers: int) -> tuple[list[subprocess.Popen[str]], int]:
    port = free_port()
    if kind == "bare":
        proc = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)], text=True,
                                stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()
        return [proc], port
    env = dict(os.environ, KUZET_VAR_DIR=tmp, KUZET_DATABASE_URL=url, KUZET_PORT=str(free_port()),
               KUZET_GATEWAY_TELTONIKA_PORT=str(port), KUZET_GATEWAY_MQTT="off", KUZET_JOURNAL_URL="embedded")
    for name in OTHER_LISTENERS:
        env[f"KUZET_GATEWAY_{name.upper()}_PORT"] = "off"
    seed_store(url, wearers)
    if kind == "embedded":  # kuzet serve as shipped: its monitor in a child process
        return [start(["serve", "--no-migrate"], env, tmp)], port
    if kind == "embedded-one-process":  # everything on one core
        return [start(["serve", "--no-migrate", "--monitor-in-process"], env, tmp)], port
    env.update(KUZET_JOURNAL_URL="nats://127.0.0.1:4222", KUZET_JOURNAL_STREAM=f"KZT_BENCH_{uuid.uuid4().hex[:8]}",
               KUZET_JOURNAL_PARTITIONS="8")
    procs = [start(["gateway"], env, tmp)]
    procs += [start(["monitor", "--partitions", p], env, tmp) for p in ("0-3", "4-7")]
    return procs, port


LAYOUTS = ("bare", "embedded", "embedded-one-process", "nats+postgresql")


def run_e2e(quick: bool, layouts: tuple[str, ...] = LAYOUTS) -> None:
    from kuzet.pipeline.fleet import blast

    wearers = 1000
    for kind in layouts:
        for per_frame, count in ((10, 20_000 if quick else 60_000), (1, 10_000 if quick else 30_000)):
            with contextlib.ExitStack() as stack:
                tmp = tempfile.mkdtemp()
                url = (f"sqlite:///{tmp}/kuzet.db" if kind.startswith("embedded") or kind == "bare"
                       else stack.enter_context(pg_database()))
                procs, port = e2e_layout(kind, tmp, url, wearers)
                try:
                    reps = reports_for(wearers, count, start=datetime.now(UTC) - timedelta(hours=3))
                    result = run_async(blast(reps, "127.0.0.1", port, records_per_frame=per_frame))
                    # Timed from the first frame (the 1,000 connections are made and logged in before it).
                    t = result.started
                    acked = result.finished - result.started
                    while kind != "bare" and store_count(url) < count and time.perf_counter() - t < 600:
                        time.sleep(0.2)
                    done = time.perf_counter() - t
                finally:
                    stop(procs)
                row(f"e2e {kind}, {per_frame} record(s)/frame, acknowledged", f"{count / acked:,.0f} reports/s",
                    f"(ACK p99 {pct(sorted(result.ack_latencies), 0.99) * 1000:.0f} ms)")
                if kind != "bare":
                    row(f"e2e {kind}, {per_frame} record(s)/frame, stored", f"{count / done:,.0f} reports/s")
        if kind == "bare":
            continue
        # arrival-to-alert at 3,300 reports a second
        seconds = 10 if quick else 30
        with contextlib.ExitStack() as stack:
            tmp = tempfile.mkdtemp()
            url = (f"sqlite:///{tmp}/kuzet.db" if kind.startswith("embedded")
                       else stack.enter_context(pg_database()))
            procs, port = e2e_layout(kind, tmp, url, wearers)
            try:
                count = 3300 * seconds
                reps = reports_for(wearers, count, start=datetime.now(UTC) - timedelta(hours=3), violating_every=5)
                t = time.perf_counter()
                paced = run_async(blast(reps, "127.0.0.1", port, records_per_frame=1, rate=3300))
                sent = paced.finished - paced.started  # from the first frame to the last ACK
                while store_count(url) < count and time.perf_counter() - t < 600:
                    time.sleep(0.2)
                time.sleep(2)
            finally:
                stop(procs)
            lat = alert_latencies(url)
            row(f"e2e {kind}, arrival to alert stored at 3,300 reports/s ({len(lat)} alerts)",
                f"p50 {pct(lat, 0.5) * 1000:,.0f} ms, p99 {pct(lat, 0.99) * 1000:,.0f} ms",
                f"(offered {count / sent:,.0f} reports/s for {sent:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (about a minute)")
    parser.add_argument("--only", default="journal,monitor,e2e", help="journal,monitor,e2e,layout")
    parser.add_argument("--layout", action="store_true", help="only the positions-layout measurement")
    parser.add_argument("--e2e", default="all", help=f"end-to-end layouts, comma-separated: {', '.join(LAYOUTS)}")
    parser.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server is not None:
        bare_server(args.bare_server)
        return
    parts = {"layout"} if args.layout else set(args.only.split(","))
    import timeit

    speed = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    print(f"pipeline benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}; machine speed: "
          f"sum(range(1000)) takes {speed:.1f} µs (lower is faster)")
    row("machine speed: sum(range(1000))", f"{speed:.1f} µs", "higher means a slower or busier machine: compare "
        "runs by it")
    if "journal" in parts:
        asyncio.run(bench_journal(args.quick))
    if "monitor" in parts:
        asyncio.run(bench_monitor(args.quick))
    if "e2e" in parts:
        chosen = tuple(k for k in LAYOUTS if args.e2e == "all" or k in args.e2e.split(","))
        run_e2e(args.quick, chosen)
    if "layout" in parts:
        bench_layout()
    print("\n| measurement | result | note |\n| --- | --- | --- |")
    for what, value, note in ROWS:
        print(f"| {what} | {value} | {note} |")


if __name__ == "__main__":
    main()
