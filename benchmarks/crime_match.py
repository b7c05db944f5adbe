"""Crime-scene matching over a large trail store: the space-time index against a full scan, in one run.

Builds ``--fixes`` fixes (default 100 million) for people living in Almaty, Astana and Shymkent (45/30/25 %;
homes in 40 neighbourhood clusters per city, half of them in work, a third of those in the centre, the rest
spending the day near home; commutes at city speed; one fix a minute; GPS / Wi-Fi / cell accuracies; 1 % of
devices silent). At night that is about 140 wearers per km² in central Almaty, by day about 200: roughly 1 %
of the people there, loads them with COPY into the privacy index tables of a fresh database, builds the indexes
after loading, then times 500 m and 2 km questions over 2 h, 24 h and 7 days:

* ``near``  — the place-and-window lookup through the index and the classification of the fixes found;
* ``full``  — the whole answer as ``match_crime_scene`` gives it (also "elsewhere" and "no data"), audited;
* ``scan``  — the same lookup by a full scan (indexes disabled), on a few questions, whose answers must equal
  the index's.

    python benchmarks/crime_match.py --quick                    # 1 million fixes, PostgreSQL
    python benchmarks/crime_match.py --quick --backend sqlite   # the same on SQLite
    nice python benchmarks/crime_match.py --keep                # 100 million fixes (hours on 2 cores)
    python benchmarks/crime_match.py --reuse                    # query an existing --keep database again

Scene centres are drawn from the generated fixes (crimes happen where people are) so the dense city
centres are asked about as often as they are lived in.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
import statistics
import struct
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from h3.api import basic_int as h3i

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kuzet.audit import Actor
from kuzet.domain.geometry import Circle, LocalProjection
from kuzet.privacy.index import LEVELS, WIDE_CELL
from kuzet.privacy.matching import (
    CrimeSceneQuery,
    candidate_fixes,
    cells_for,
    find_near,
    match_crime_scene,
    near_people,
)
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade

PG_ADMIN = os.environ.get("KUZET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CITIES = (  # name, (lat, lon), share of wearers, spread of neighbourhoods (km)
    ("Almaty", (43.2389, 76.8897), 0.45, 5.0),
    ("Astana", (51.1694, 71.4491), 0.30, 4.5),
    ("Shymkent", (42.3417, 69.5901), 0.25, 4.0),
)
START = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)  # 23:00 in Almaty: the trail starts at night
LOCAL = ZoneInfo("Asia/Almaty")
POLICE = Actor(None, "bench.liaison", "police_liaison")
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# -- the synthetic region ---------------------------------------------------------------------------------
def km_to_deg(lat: float) -> tuple[float, float]:
    """Degrees of latitude and longitude per kilometre at ``lat``."""
    return 1 / 111.2, 1 / (111.2 * math.cos(math.radians(lat)))


def people_places(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Home, work and evening places of ``n`` people, clustered in three cities."""
    city = rng.choice(len(CITIES), size=n, p=[c[2] for c in CITIES])
    home = np.zeros((n, 2))
    work = np.zeros((n, 2))
    evening = np.zeros((n, 2))
    for i, (_, (lat, lon), _, spread) in enumerate(CITIES):
        sel = city == i
        k = int(sel.sum())
        dlat, dlon = km_to_deg(lat)
        hoods = rng.normal(0, spread, size=(40, 2))
        hood = hoods[rng.integers(0, 40, size=k)] + rng.normal(0, 0.8, size=(k, 2))
        home[sel] = np.column_stack([lat + hood[:, 0] * dlat, lon + hood[:, 1] * dlon])
        # About half are in work; of those a third work in the centre. The others spend the day near home.
        employed = rng.random(k) < 0.55
        central = rng.random(k) < 0.35
        w = np.where(central[:, None], rng.normal(0, 2.5, size=(k, 2)), rng.normal(0, 7.0, size=(k, 2)))
        w = np.where(employed[:, None], w, hood + rng.normal(0, 1.5, size=(k, 2)))
        work[sel] = np.column_stack([lat + w[:, 0] * dlat, lon + w[:, 1] * dlon])
        e = rng.normal(0, 3.0, size=(k, 2))
        evening[sel] = np.column_stack([lat + e[:, 0] * dlat, lon + e[:, 1] * dlon])
    return {"city": city, "home": home, "work": work, "evening": evening}


def trails(rng: np.random.Generator, places: dict[str, np.ndarray], idx: np.ndarray, minutes: int,
           local_minute: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (lat, lon) and accuracies, shape (people, minutes), one fix a minute."""
    p = len(idx)
    home, work, evening = places["home"][idx], places["work"][idx], places["evening"][idx]
    leave = rng.normal(8 * 60, 45, size=p)[:, None]
    back = rng.normal(18 * 60 + 30, 60, size=p)[:, None]
    goes_out = (rng.random(p) < 0.35)[:, None]
    dist_km = np.hypot((work - home)[:, 0] * 111.2, (work - home)[:, 1] * 111.2 * 0.75)
    commute = np.maximum(10.0, dist_km / 25.0 * 60)[:, None]  # 25 km/h in town
    s = np.broadcast_to(local_minute[None, :], (p, minutes)).astype(np.float64)
    out = np.clip((s - leave) / commute, 0, 1)[..., None]
    ret = np.clip((s - back) / commute, 0, 1)[..., None]
    day = home[:, None, :] + (work - home)[:, None, :] * out
    pos = np.where((s < back)[..., None], day, work[:, None, :] + (home - work)[:, None, :] * ret)
    eve = (goes_out & (s >= back + commute + 30) & (s < back + commute + 150))[..., None]
    pos = np.where(eve, evening[:, None, :], pos)
    moving = ((out > 0) & (out < 1)) | ((ret > 0) & (ret < 1))
    moving = moving[..., 0]
    u = rng.random((p, minutes))
    acc = np.where(moving, rng.uniform(4, 15, (p, minutes)),  # outdoors, moving: GPS
                   np.where(u < 0.6, rng.uniform(8, 30, (p, minutes)),  # indoors: GPS
                            np.where(u < 0.95, rng.uniform(20, 60, (p, minutes)),  # Wi-Fi
                                     rng.uniform(200, 900, (p, minutes)))))  # cell tower
    lat0 = pos[..., 0]
    noise = rng.normal(0, 1, (p, minutes, 2)) * (acc / 2 / 111_200)[..., None]
    lat = lat0 + noise[..., 0]
    lon = pos[..., 1] + noise[..., 1] / np.cos(np.radians(lat0))
    return lat, lon, acc


def cells(lat: np.ndarray, lon: np.ndarray, acc: np.ndarray) -> np.ndarray:
    flat_lat, flat_lon, flat_acc = lat.ravel(), lon.ravel(), acc.ravel()
    out = np.empty(flat_lat.size, dtype=np.int64)
    f = h3i.latlng_to_cell
    bounds = [(r, b) for r, b in LEVELS]
    for i, (a, b, c) in enumerate(zip(flat_lat.tolist(), flat_lon.tolist(), flat_acc.tolist(), strict=True)):
        for res, bound in bounds:
            if c <= bound:
                out[i] = f(a, b, res)
                break
        else:
            out[i] = WIDE_CELL
    return out.reshape(lat.shape)


# -- loading ------------------------------------------------------------------------------------------------
CELL_ROW = np.dtype([("n", ">i2"), ("z1", ">i4"), ("report_id", ">i8"), ("z2", ">i4"), ("cell", ">i8"),
                     ("z3", ">i4"), ("time", ">i8"), ("z4", ">i4"), ("person_id", ">i4"), ("z5", ">i4"),
                     ("lat", ">f8"), ("z6", ">i4"), ("lon", ">f8"), ("z7", ">i4"), ("acc", ">f8")])
HOUR_ROW = np.dtype([("n", ">i2"), ("z1", ">i4"), ("person_id", ">i4"), ("z2", ">i4"), ("hour", ">i8"),
                     ("z3", ">i4"), ("fixes", ">i4"), ("z4", ">i4"), ("first", ">i8"), ("z5", ">i4"),
                     ("last", ">i8"), ("z6", ">i4"), ("min_lat", ">f8"), ("z7", ">i4"), ("max_lat", ">f8"),
                     ("z8", ">i4"), ("min_lon", ">f8"), ("z9", ">i4"), ("max_lon", ">f8"), ("z10", ">i4"),
                     ("max_acc", ">f8")])
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)


def binary_rows(dtype: np.dtype[Any], columns: dict[str, np.ndarray]) -> bytes:
    n = len(next(iter(columns.values())))
    arr = np.zeros(n, dtype=dtype)
    names = [name for name in dtype.names or () if not name.startswith("z") and name != "n"]
    arr["n"] = len(names)
    for name in dtype.names or ():
        if name.startswith("z"):
            nxt = dtype.names[dtype.names.index(name) + 1]  # type: ignore[union-attr]
            arr[name] = dtype.fields[nxt][0].itemsize  # type: ignore[index]
    for name, values in columns.items():
        arr[name] = values
    return arr.tobytes()


def generate(args: argparse.Namespace, minutes: int, people: int) -> Iterator[dict[str, Any]]:
    """Chunks of generated fixes and hour summaries (people in id order)."""
    rng = np.random.default_rng(args.seed)
    places = people_places(rng, people)
    grid = [START + timedelta(minutes=m) for m in range(minutes)]
    local_minute = np.array([(t.astimezone(LOCAL).hour * 60 + t.astimezone(LOCAL).minute) for t in grid])
    us = np.array([int((t - PG_EPOCH).total_seconds()) * 1_000_000 for t in grid], dtype=np.int64)
    silent = rng.random(people) < 0.01  # devices that sent nothing in the period
    hours = np.arange(0, minutes, 60)
    next_id = 1
    for lo in range(0, people, args.chunk):
        idx = np.arange(lo, min(people, lo + args.chunk))
        idx = idx[~silent[idx]]
        if len(idx) == 0:
            continue
        lat, lon, acc = trails(rng, places, idx, minutes, local_minute)
        cell = cells(lat, lon, acc)
        p = len(idx)
        n = p * minutes
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        pid = np.repeat(idx + 1, minutes)
        yield {"cells": {"report_id": ids, "cell": cell.ravel(), "time": np.tile(us, p), "person_id": pid,
                         "lat": lat.ravel(), "lon": lon.ravel(), "acc": acc.ravel()},
               "hours": {"person_id": np.repeat(idx + 1, len(hours)),
                         "hour": np.tile(us[hours], p),
                         "fixes": np.tile(np.diff(np.append(hours, minutes)), p),
                         "first": np.tile(us[hours], p),
                         "last": np.tile(us[np.append(hours[1:], minutes) - 1], p),
                         "min_lat": np.minimum.reduceat(lat, hours, axis=1).ravel(),
                         "max_lat": np.maximum.reduceat(lat, hours, axis=1).ravel(),
                         "min_lon": np.minimum.reduceat(lon, hours, axis=1).ravel(),
                         "max_lon": np.maximum.reduceat(lon, hours, axis=1).ravel(),
                         "max_acc": np.maximum.reduceat(acc, hours, axis=1).ravel()},
               "sample": (lat[:, ::97].ravel()[:50], lon[:, ::97].ravel()[:50])}


def register_people(conn: Any, people: int, backend: str) -> None:
    """People, devices and assignments, so that "no data" means what it means in the product."""
    fitted = START - timedelta(days=30)
    cur = conn.cursor()
    ph = "%s" if backend == "postgresql" else "?"
    cur.execute("INSERT INTO regions (id, code, name, timezone) VALUES (1, 'BENCH', 'Bench', 'Asia/Almaty')")
    cur.execute("INSERT INTO units (id, region_id, code, name, address) VALUES (1, 1, 'BENCH-01', 'Bench', '')")
    cur.execute("SELECT id FROM device_types ORDER BY id LIMIT 1")
    dtype = cur.fetchone()[0]
    now = datetime.now(UTC)
    person_rows = [(i, f"B-{i:06d}", "parole", 1, 1, "{}", now, "Asia/Almaty", 1800.0) for i in range(1, people + 1)]
    cur.executemany("INSERT INTO people (id, code, category, region_id, unit_id, extra, created_at, timezone, "
                    "communication_timeout_s, surname, given_name, patronymic, iin, phone, address, status, "
                    f"risk_notes) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, '', '', '', '', '', "
                    "'', 'active', '')", person_rows)
    cur.executemany(f"INSERT INTO devices (id, serial, type_id, protocol, status, unit_id, firmware, secret, "
                    f"created_at) VALUES ({ph}, {ph}, {ph}, 'kuzet', 'fitted', 1, '', '', {ph})",
                    [(i, f"BT-{i:06d}", dtype, now) for i in range(1, people + 1)])
    cur.executemany(f"INSERT INTO assignments (id, device_id, person_id, fitted_at, note) "
                    f"VALUES ({ph}, {ph}, {ph}, {ph}, '')", [(i, i, i, fitted) for i in range(1, people + 1)])
    conn.commit()


def load_postgres(args: argparse.Namespace, url: str, minutes: int, people: int) -> list[tuple[float, float]]:
    upgrade(url)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    samples: list[tuple[float, float]] = []
    with psycopg.connect(dsn) as conn:
        register_people(conn, people, "postgresql")
        conn.execute("DROP INDEX ix_privacy_position_cells_cell_time")
        conn.execute("ALTER TABLE privacy_position_cells DROP CONSTRAINT pk_privacy_position_cells")
        conn.execute("DROP INDEX ix_privacy_trail_hours_hour")
        conn.execute("ALTER TABLE privacy_trail_hours DROP CONSTRAINT pk_privacy_trail_hours")
        conn.commit()
        t0 = time.perf_counter()
        loaded = 0
        for chunk in generate(args, minutes, people):
            with conn.cursor().copy("COPY privacy_position_cells (report_id, cell, time, person_id, lat, lon, "
                                    "accuracy_m) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(COPY_HEADER + binary_rows(CELL_ROW, chunk["cells"]) + COPY_TRAILER)
            with conn.cursor().copy("COPY privacy_trail_hours (person_id, hour, fixes, first_time, last_time, "
                                    "min_lat, max_lat, min_lon, max_lon, max_accuracy_m) FROM STDIN "
                                    "(FORMAT BINARY)") as copy:
                copy.write(COPY_HEADER + binary_rows(HOUR_ROW, chunk["hours"]) + COPY_TRAILER)
            conn.commit()
            loaded += len(chunk["cells"]["report_id"])
            samples.extend((float(a), float(b)) for a, b in zip(*chunk["sample"], strict=True))
            el = time.perf_counter() - t0
            print(f"  loaded {loaded:,} fixes in {el:,.0f} s ({loaded / el:,.0f}/s)", flush=True)
        t1 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("ALTER TABLE privacy_position_cells ADD CONSTRAINT pk_privacy_position_cells "
                     "PRIMARY KEY (report_id)")
        conn.execute("CREATE INDEX ix_privacy_position_cells_cell_time ON privacy_position_cells "
                     "(cell, time, person_id, lat, lon, accuracy_m)")
        conn.execute("ALTER TABLE privacy_trail_hours ADD CONSTRAINT pk_privacy_trail_hours "
                     "PRIMARY KEY (person_id, hour)")
        conn.execute("CREATE INDEX ix_privacy_trail_hours_hour ON privacy_trail_hours (hour)")
        conn.commit()
        print(f"  indexes built in {time.perf_counter() - t1:,.0f} s", flush=True)
        t2 = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE privacy_position_cells")
        conn.execute("VACUUM ANALYZE privacy_trail_hours")
        conn.execute("ANALYZE")
        print(f"  vacuum/analyze in {time.perf_counter() - t2:,.0f} s", flush=True)
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('privacy_position_cells'))").fetchone()
        print(f"  privacy_position_cells with indexes: {size[0] if size else '?'}", flush=True)
    return samples


def load_sqlite(args: argparse.Namespace, url: str, minutes: int, people: int) -> list[tuple[float, float]]:
    upgrade(url)
    path = url.split("///", 1)[1]
    samples: list[tuple[float, float]] = []
    conn = sqlite3.connect(path)
    register_people(conn, people, "sqlite")
    conn.execute("DROP INDEX ix_privacy_position_cells_cell_time")
    conn.execute("DROP INDEX ix_privacy_trail_hours_hour")
    t0 = time.perf_counter()
    loaded = 0

    def ts(us: np.ndarray) -> list[str]:
        return [(PG_EPOCH + timedelta(microseconds=int(v))).strftime("%Y-%m-%d %H:%M:%S.%f") for v in us]

    for chunk in generate(args, minutes, people):
        c = chunk["cells"]
        conn.executemany("INSERT INTO privacy_position_cells VALUES (?, ?, ?, ?, ?, ?, ?)",
                         zip(c["report_id"].tolist(), c["cell"].tolist(), ts(c["time"]), c["person_id"].tolist(),
                             c["lat"].tolist(), c["lon"].tolist(), c["acc"].tolist(), strict=True))
        h = chunk["hours"]
        conn.executemany("INSERT INTO privacy_trail_hours VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         zip(h["person_id"].tolist(), ts(h["hour"]), h["fixes"].tolist(), ts(h["first"]),
                             ts(h["last"]), h["min_lat"].tolist(), h["max_lat"].tolist(), h["min_lon"].tolist(),
                             h["max_lon"].tolist(), h["max_acc"].tolist(), strict=True))
        conn.commit()
        loaded += len(c["report_id"])
        samples.extend((float(a), float(b)) for a, b in zip(*chunk["sample"], strict=True))
    print(f"  loaded {loaded:,} fixes in {time.perf_counter() - t0:,.0f} s", flush=True)
    t1 = time.perf_counter()
    conn.execute("CREATE INDEX ix_privacy_position_cells_cell_time ON privacy_position_cells "
                 "(cell, time, person_id, lat, lon, accuracy_m)")
    conn.execute("CREATE INDEX ix_privacy_trail_hours_hour ON privacy_trail_hours (hour)")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    print(f"  indexes built in {time.perf_counter() - t1:,.0f} s", flush=True)
    return samples


def build_gist(url: str) -> None:
    """The GiST alternative: each fix's confidence box and its time in one R-tree (core box + btree_gist)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        conn.execute("DROP TABLE IF EXISTS bench_gist_fixes")
        conn.execute(
            "CREATE TABLE bench_gist_fixes AS SELECT person_id, time, lat, lon, accuracy_m, "
            "box(point(lon - accuracy_m / (111195.0 * cos(radians(lat))), lat - accuracy_m / 111195.0), "
            "    point(lon + accuracy_m / (111195.0 * cos(radians(lat))), lat + accuracy_m / 111195.0)) AS conf "
            "FROM privacy_position_cells")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("CREATE INDEX bench_gist_fixes_conf_time ON bench_gist_fixes USING gist (conf, time)")
        conn.execute("VACUUM ANALYZE bench_gist_fixes")
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('bench_gist_fixes'))").fetchone()
        print(f"  GiST (confidence box, time) built in {time.perf_counter() - t0:,.0f} s, "
              f"{size[0] if size else '?'}", flush=True)


def gist_near(session: Any, query: CrimeSceneQuery) -> set[int]:
    """The same classification as ``find_near`` for a circle, with the GiST doing the lookup."""
    from sqlalchemy import text

    place = query.place
    assert isinstance(place, Circle)
    proj = LocalProjection.about(place.anchor)
    r = place.radius_m
    west, south = proj.inverse(-r, -r)
    east, north = proj.inverse(r, r)
    rows = session.execute(text(
        "SELECT person_id, min(d2) FROM (SELECT person_id, accuracy_m AS a, "
        "  ((lon - :lon0) * :kx) ^ 2 + ((lat - :lat0) * :ky) ^ 2 AS d2 FROM bench_gist_fixes "
        "  WHERE conf && box(point(:west, :south), point(:east, :north)) AND time >= :s AND time < :e) f "
        "WHERE d2 <= (a + :r) ^ 2 GROUP BY person_id"),
        {"lon0": proj.lon0, "lat0": proj.lat0, "kx": proj.kx, "ky": proj.ky, "west": west, "south": south,
         "east": east, "north": north, "s": query.start, "e": query.end, "r": r}).all()
    return {int(p) for p, _ in rows}


# -- querying ----------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def scan_near(session: Any, query: CrimeSceneQuery) -> set[int]:
    """The near people found by reading every fix of the window (no index), for the baseline."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            session.execute(text(f"SET LOCAL {setting} = off"))
    # The table is read whole; only the rows in the place's box grown by the coarsest level come back.
    grow = LEVELS[-1][1] + 1.0
    geo = query.place.to_local(LocalProjection.about(query.place.anchor)).buffer(grow)
    proj = LocalProjection.about(query.place.anchor)
    west, south = proj.inverse(geo.bounds[0], geo.bounds[1])
    east, north = proj.inverse(geo.bounds[2], geo.bounds[3])
    rows = session.execute(text(
        "SELECT person_id, time, lat, lon, accuracy_m FROM privacy_position_cells "
        "WHERE time >= :s AND time < :e AND ((lat BETWEEN :south AND :north AND lon BETWEEN :west AND :east) "
        "OR cell = 0)"),
        {"s": query.start, "e": query.end, "south": south, "north": north, "west": west, "east": east}).all()
    from kuzet.privacy.matching import Fixes

    if not rows:
        return set()
    p, t, la, lo, ac = zip(*rows, strict=True)
    fixes = Fixes(np.asarray(p), list(t), np.asarray(la), np.asarray(lo), np.asarray(ac))
    return set(near_people(query.place, fixes))


def run_queries(args: argparse.Namespace, url: str, samples: list[tuple[float, float]], minutes: int) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(args.seed + 1)
    end_of_data = START + timedelta(minutes=minutes)
    print(f"\n{'radius':>7} {'window':>7} {'n':>4} {'near p50':>9} {'p95':>8} {'p99':>8} {'full p50':>9} "
          f"{'p99':>8} {'scan p50':>9} {'speed-up':>9} {'fixes/q':>9} {'near/q':>7} {'cells':>6}")
    for radius in (500.0, 2000.0):
        for label, window in (("2h", timedelta(hours=2)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7))):
            near_ms: list[float] = []
            full_ms: list[float] = []
            scan_ms: list[float] = []
            gist_ms: list[float] = []
            fixes_seen: list[int] = []
            near_seen: list[int] = []
            cell_counts: list[int] = []
            for q in range(args.queries):
                lat, lon = samples[rng.randrange(len(samples))]
                span = (end_of_data - START) - window
                if span > timedelta(0):
                    start = START + timedelta(seconds=rng.uniform(0, span.total_seconds()))
                else:
                    start = end_of_data - window + timedelta(minutes=rng.uniform(0, 60))
                query = CrimeSceneQuery(Circle(centre=(lon, lat), radius_m=radius), start, start + window,
                                        "BENCH-0001", "benchmark of the crime-scene index")
                with sessions() as session:
                    t0 = time.perf_counter()
                    near = find_near(session, query.place, query.start, query.end)
                    near_ms.append((time.perf_counter() - t0) * 1000)
                    near_seen.append(len(near))
                    cell_counts.append(len(cells_for(query.place)))
                    t1 = time.perf_counter()
                    result = match_crime_scene(session, POLICE, query)
                    full_ms.append((time.perf_counter() - t1) * 1000)
                    session.rollback()
                    assert {p.person_id for p in result.within + result.possibly_within} == set(near)
                if args.gist:
                    with sessions() as session:
                        t3 = time.perf_counter()
                        by_gist = gist_near(session, query)
                        gist_ms.append((time.perf_counter() - t3) * 1000)
                    if by_gist != set(near):
                        raise SystemExit(f"GiST and index disagree: {sorted(by_gist ^ set(near))[:10]}")
                if q < args.scan_queries:
                    with sessions() as session:
                        fixes = candidate_fixes(session, query.place, query.start, query.end)
                        fixes_seen.append(len(fixes.person_id))
                        by_fix = near_people(query.place, fixes)
                        t2 = time.perf_counter()
                        scanned = scan_near(session, query)
                        scan_ms.append((time.perf_counter() - t2) * 1000)
                        session.rollback()
                    if not (scanned == set(near) == set(by_fix)):
                        raise SystemExit(f"index, per-fix and full scan disagree for {query.to_json()}: "
                                         f"{sorted(scanned ^ set(near))[:10]} {sorted(set(by_fix) ^ set(near))[:10]}")
            scan = statistics.median(scan_ms) if scan_ms else float("nan")
            print(f"{radius:>6.0f}m {label:>7} {len(near_ms):>4} {statistics.median(near_ms):>8.1f}ms "
                  f"{percentile(near_ms, 0.95):>6.1f}ms {percentile(near_ms, 0.99):>6.1f}ms "
                  f"{statistics.median(full_ms):>8.1f}ms {percentile(full_ms, 0.99):>6.1f}ms "
                  f"{scan:>8.0f}ms {scan / statistics.median(near_ms):>8.0f}x "
                  f"{statistics.mean(fixes_seen) if fixes_seen else 0:>9,.0f} {statistics.mean(near_seen):>7,.0f} "
                  f"{statistics.mean(cell_counts):>6.0f}", flush=True)
            if gist_ms:
                print(f"{'':>15} GiST (box, time): p50 {statistics.median(gist_ms):.1f} ms, "
                      f"p95 {percentile(gist_ms, 0.95):.1f} ms, p99 {percentile(gist_ms, 0.99):.1f} ms", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixes", type=int, default=100_000_000, help="how many fixes to build")
    parser.add_argument("--quick", action="store_true", help="1 million fixes, fewer questions")
    parser.add_argument("--minutes", type=int, default=2000, help="length of each trail, one fix a minute")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--queries", type=int, default=100, help="questions per radius and window")
    parser.add_argument("--scan-queries", type=int, default=2, help="of which also answered by a full scan")
    parser.add_argument("--chunk", type=int, default=500, help="people generated and loaded at a time")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--gist", action="store_true",
                        help="also build and time a GiST index over (confidence box, time) (PostgreSQL)")
    parser.add_argument("--db", default="", help="database name (PostgreSQL) or file (SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="query an existing --keep database")
    args = parser.parse_args()
    if args.quick:
        args.fixes = min(args.fixes, 1_000_000)
        args.minutes = min(args.minutes, 2000)
        args.queries = min(args.queries, 30)
    people = max(1, args.fixes // args.minutes)
    print(f"crime-scene matching: {people:,} people x {args.minutes:,} minutes = {people * args.minutes:,} "
          f"fixes on {args.backend}", flush=True)
    if args.backend == "postgresql":
        name = args.db or ("kuzet_bench_crime" if args.keep or args.reuse else f"kuzet_bench_crime_{os.getpid()}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        if not args.reuse:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
    else:
        path = Path(args.db or "benchmarks/out/crime_match.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not args.reuse and path.exists():
            path.unlink()
        url = f"sqlite:///{path}"
    try:
        if args.reuse:
            engine = make_engine(url)
            with engine.connect() as conn:
                from sqlalchemy import text

                rows = conn.execute(text("SELECT lat, lon FROM privacy_position_cells "
                                         "WHERE report_id % 9973 = 0 LIMIT 20000")).all()
            engine.dispose()
            samples = [(float(a), float(b)) for a, b in rows]
        else:
            t0 = time.perf_counter()
            loader = load_postgres if args.backend == "postgresql" else load_sqlite
            samples = loader(args, url, args.minutes, people)
            print(f"  built in {time.perf_counter() - t0:,.0f} s", flush=True)
        if args.gist and args.backend == "postgresql":
            build_gist(url)
        run_queries(args, url, samples, args.minutes)
    finally:
        if args.backend == "postgresql" and not (args.keep or args.reuse):
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
