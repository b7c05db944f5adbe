"""Simulated-region load: a `kuzet simulate` region driven through the real embedded pipeline.

Where ``benchmarks/pipeline.py`` measures with uniform synthetic traffic, this one uses the simulator's
realistic region (``kuzet simulate --wearers 50000 --no-truth``): people in Almaty, Astana and Shymkent, noisy
fixes, late uploads, violations. It registers the region in a fresh SQLite store, starts ``kuzet serve``
(gateway, embedded journal, monitor) and sends every report over Teltonika TCP connections, one per device,
ten records a frame. It prints, beside each other in the same run:

- **gateway only** (baseline): the same frames acknowledged by ``kuzet gateway-store``, which writes straight
  to the store and evaluates nothing;
- **full pipeline**: acknowledged by ``kuzet serve`` as shipped (gateway and journal, with its monitor in a
  child process on the embedded journal file, so that gateway and monitor each get a core) and then stored
  and evaluated by the monitor, first as fast as the service acknowledges, then paced at ``--rate`` reports a
  second (default 3,300: 50,000 wearers at one report every 15 s), where the ACK latency is the figure to read;
- **one process**: the same with ``kuzet serve --monitor-in-process``, everything on one core.

Devices connect in waves of 2,000 (see ``WAVE``), each device keeping its buffer
until acknowledged. Protected persons' phones are left out (their ids are not IMEIs, so they cannot log in
over Teltonika).

Run: ``python benchmarks/simulated_load.py [--quick] [--bundle DIR]``. Without ``--bundle`` it simulates
``--wearers`` people (default 50,000; 2,000 with ``--quick``) for ``--minutes`` (default 4; 5 with ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from kuzet.domain.reports import DeviceReport
from kuzet.exchange.bundle import Bundle, read_bundle
from kuzet.exchange.store_io import import_bundle
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.migrate import upgrade
from pipeline import free_port, pct, start, stop, store_count


def simulate(directory: Path, wearers: int, minutes: float) -> None:
    begin = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    subprocess.run([sys.executable, "-m", "kuzet.cli", "simulate", "--out", str(directory), "--wearers",
                    str(wearers), "--hours", str(minutes / 60), "--no-truth", "--seed", "50000",
                    "--start", begin.isoformat().replace("+00:00", "Z")], check=True)


#: Devices connecting at once. Trackers hold one TCP connection each, and this machine allows 20,000 open
#: descriptors per process, so a larger region is driven in waves of devices taking turns (as power-saving
#: trackers do when they connect to upload and hang up). With 8,000 at once, logins queue for longer than
#: the fleet's 5 s ACK timeout and devices reconnect and resend (measured: under 600 reports/s, most of the
#: work repeated), which measures the timeout rather than the service; 2,000 at once keeps every device's
#: first attempt within it.
WAVE = 2_000


def prepare(bundle: Bundle, directory: Path) -> Path:
    """A migrated SQLite store with the region registered, made once (kept beside the bundle) and copied for
    each layout."""
    kept = directory.with_name(directory.name + ".store.db")
    if kept.exists() and kept.stat().st_mtime > (directory / "reports.ndjson").stat().st_mtime:
        return kept
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp}/kuzet.db"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        import_bundle(session, Bundle(bundle.plan), region_code="LOAD",
                      fitted_at=min(r.time for _, r in bundle.reports) - timedelta(days=1))
    engine.dispose()
    shutil.copy(tmp / "kuzet.db", kept)
    return kept


def run(kind: str, template: Path, reports: list[DeviceReport], per_frame: int, rate: float | None
        ) -> tuple[float, float, float, float, int]:
    """(acknowledged reports/s, stored reports/s, ACK p50 s, ACK p99 s, waves) for one layout."""
    from kuzet.gateway.speakers import TeltonikaSpeaker
    from kuzet.pipeline.fleet import FleetResult, drive

    tmp = tempfile.mkdtemp()
    shutil.copy(template, f"{tmp}/kuzet.db")
    url = f"sqlite:///{tmp}/kuzet.db"
    port = free_port()
    env = dict(os.environ, KUZET_VAR_DIR=tmp, KUZET_DATABASE_URL=url, KUZET_PORT=str(free_port()),
               KUZET_GATEWAY_TELTONIKA_PORT=str(port), KUZET_GATEWAY_MQTT="off")
    for name in ("gt06", "h02", "watch", "kuzet_tcp", "osmand", "kuzet_https"):
        env[f"KUZET_GATEWAY_{name.upper()}_PORT"] = "off"
    devices = sorted({r.device for r in reports})
    waves = [set(devices[i : i + WAVE]) for i in range(0, len(devices), WAVE)]
    commands = {"gateway only": [["gateway-store"]], "full pipeline": [["serve", "--no-migrate"]],
                "one process": [["serve", "--no-migrate", "--monitor-in-process"]]}[kind]
    procs = [start(command, env, tmp) for command in commands]
    result = FleetResult()
    try:
        t = time.perf_counter()
        for wave in waves:
            asyncio.run(drive([r for r in reports if r.device in wave], TeltonikaSpeaker(), "127.0.0.1", port,
                              records_per_frame=per_frame, rate=rate, result=result))
        acked = time.perf_counter() - t
        expected = len({(r.device, r.time) for r in reports})
        while store_count(url) < expected and time.perf_counter() - t < 3600:
            time.sleep(0.5)
        done = time.perf_counter() - t
    finally:
        stop(procs)
    lat = sorted(result.ack_latencies)
    return len(reports) / acked, len(reports) / done, pct(lat, 0.5), pct(lat, 0.99), len(waves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bundle", type=Path, help="an existing `kuzet simulate --out` bundle")
    parser.add_argument("--wearers", type=int)
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--only", choices=["gateway only", "full pipeline", "one process"])
    parser.add_argument("--rate", type=float, default=3300.0,
                        help="reports a second offered in the paced run (50,000 wearers at one per 15 s)")
    args = parser.parse_args()
    directory = args.bundle
    if directory is None:
        directory = Path(tempfile.mkdtemp()) / "region"
        wearers = args.wearers or (2000 if args.quick else 50_000)
        minutes = args.minutes or (5.0 if args.quick else 4.0)
        t = time.perf_counter()
        simulate(directory, wearers, minutes)
        print(f"simulated {wearers:,} wearers for {minutes:g} min in {time.perf_counter() - t:.0f} s")
    bundle = read_bundle(directory)
    bracelets = sum(1 for _, r in bundle.reports if r.device.isdigit())  # protected persons' phones are not
    print(f"{len(bundle.plan.subjects):,} subjects, {len(bundle.reports):,} reports, {bracelets:,} of them from "
          f"bracelets (sent over Teltonika, ten records a frame)\n")
    reports = [r for _, r in bundle.reports if r.device.isdigit()]
    template = prepare(bundle, directory)
    print("| layout | offered | acknowledged | stored | ACK p50 | ACK p99 | waves |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    layouts = [("gateway only", None), ("full pipeline", None), ("full pipeline", args.rate),
               ("one process", None), ("one process", args.rate)]
    for kind, rate in [x for x in layouts if not args.only or x[0] == args.only]:
        ack, stored, p50, p99, waves = run(kind, template, reports, 10, rate)
        offered = "as fast as acknowledged" if rate is None else f"{rate:,.0f} reports/s"
        print(f"| {kind} | {offered} | {ack:,.0f} reports/s | {stored:,.0f} reports/s | {p50 * 1000:,.0f} ms "
              f"| {p99 * 1000:,.0f} ms | {waves} |", flush=True)


if __name__ == "__main__":
    main()
