"""Daily time partitions of ``device_reports`` on PostgreSQL (decision 003).

On PostgreSQL the migration ``pipeline_0002`` turns ``device_reports`` into a table partitioned by range of
``time``: one partition per UTC day (``device_reports_pYYYYMMDD``) and a default partition
(``device_reports_default``) for reports whose day has no partition yet (a device with a wrong clock, a bundle
from before the installation). Partitions are created ahead by :func:`maintain` (the ``partitions`` periodic
job and ``kuzet migrate``); creating a day that already has rows in the default partition moves them in the
same transaction, so no row is ever outside its day once the day exists.

Expired days are dropped whole by :func:`drop_expired` (``DROP TABLE`` costs the same for a thousand rows as
for a billion and leaves nothing for VACUUM); a day that still holds a protected row (a court hold, a report
cited by a fitting record) is left to the caller's row-by-row delete.

SQLite keeps one table: every function here is a no-op there and says so by its return value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, select, text
from sqlalchemy.orm import Session

from .models import DeviceReportRecord

log = logging.getLogger("kuzet.store.partitions")

PARENT = "device_reports"
DEFAULT = "device_reports_default"
#: How many days ahead :func:`maintain` keeps partitions ready.
AHEAD_DAYS = 7


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


#: What the partitioned layout changes against the models: the idempotency key gains ``time`` and the fitting
#: records' reference to a report is checked by the devices area instead of a foreign key.
_LAYOUT_CONSTRAINTS = frozenset({"uq_device_reports_dedup_key",
                                 "fk_device_fitting_records_test_report_id_device_reports"})


def managed_by_partitioning(obj: Any, name: str | None, type_: str) -> bool:
    """True for the schema objects that the partitioned layout owns (for ``kuzet.store.migrate.check``)."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    if (table or "").startswith(f"{PARENT}_p") or table == DEFAULT:
        return True
    return type_ in ("unique_constraint", "foreign_key_constraint") and name in _LAYOUT_CONSTRAINTS


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def is_partitioned(conn: Connection) -> bool:
    """True when ``device_reports`` is a partitioned table (PostgreSQL after ``pipeline_0002``)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :t AND c.relnamespace = to_regnamespace(current_schema()))"), {"t": PARENT}).scalar())


def day_partitions(conn: Connection) -> list[Partition]:
    """The daily partitions that exist, oldest first (the default partition is not listed)."""
    if not is_partitioned(conn):
        return []
    names = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t AND "
        "p.relnamespace = to_regnamespace(current_schema())"), {"t": PARENT}).scalars()
    out = []
    prefix = f"{PARENT}_p"
    for name in names:
        if name.startswith(prefix):
            out.append(Partition(name, date.fromisoformat(name[len(prefix):])))
    return sorted(out, key=lambda p: p.day)


def create_day(conn: Connection, day: date) -> bool:
    """Create the partition of ``day`` (UTC) if it does not exist, moving its rows out of the default partition.

    Returns True when it was created. Runs in the caller's transaction; an advisory lock on the day makes
    concurrent callers (two monitors, the job and ``kuzet migrate``) wait for each other instead of failing.
    """
    return ensure_days(conn, [day]) == 1


def _create_day(conn: Connection, day: date) -> bool:
    """:func:`create_day` on a table already known to be partitioned."""
    part = Partition(partition_name(day), day)
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": part.name})
    if conn.execute(text("SELECT to_regclass(:n)"), {"n": part.name}).scalar() is not None:
        return False
    lo, hi = part.start.isoformat(), part.end.isoformat()
    conn.execute(text(f'CREATE TABLE "{part.name}" (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    moved = conn.execute(text(
        f'WITH moved AS (DELETE FROM "{DEFAULT}" WHERE time >= :lo AND time < :hi RETURNING *) '
        f'INSERT INTO "{part.name}" SELECT * FROM moved'), {"lo": part.start, "hi": part.end}).rowcount
    conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION \"{part.name}\" "
                      f"FOR VALUES FROM ('{lo}') TO ('{hi}')"))
    log.info("created partition %s (%d rows moved from the default partition)", part.name, max(moved, 0))
    return True


def ensure_days(conn: Connection, days: Iterable[date]) -> int:
    """Create every missing partition among ``days``; returns how many were created (0 on SQLite)."""
    if not is_partitioned(conn):
        return 0
    return sum(_create_day(conn, d) for d in sorted(set(days)))


def maintain(conn: Connection, now: datetime | None = None, *, ahead: int = AHEAD_DAYS) -> int:
    """Keep partitions ready from yesterday to ``ahead`` days after today (UTC); returns how many were made."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return ensure_days(conn, (today + timedelta(days=i) for i in range(-1, ahead + 1)))


def drop_expired(session: Session, before: datetime, protected: ColumnElement[bool] | None = None) -> int:
    """Drop every daily partition that ends at or before ``before`` and holds no ``protected`` row.

    ``protected`` is a condition on :class:`DeviceReportRecord` (court holds, cited reports). Returns how many
    rows were removed with the dropped partitions; rows in partitions kept, in the partition that straddles
    ``before`` and in the default partition are left to the caller's row delete.
    """
    conn = session.connection()
    if before.tzinfo is None:
        raise ValueError("drop_expired needs a timezone-aware 'before' (UTC)")
    removed = 0
    r = DeviceReportRecord
    for part in day_partitions(conn):
        if part.end > before:
            break
        in_day = (r.time >= part.start) & (r.time < part.end)
        if protected is not None and session.execute(select(exists().where(in_day, protected))).scalar():
            continue
        n = int(session.execute(select(func.count()).where(in_day)).scalar() or 0)
        conn.execute(text(f'ALTER TABLE {PARENT} DETACH PARTITION "{part.name}"'))
        conn.execute(text(f'DROP TABLE "{part.name}"'))
        log.info("dropped expired partition %s (%d rows)", part.name, n)
        removed += n
    return removed
