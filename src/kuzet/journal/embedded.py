"""The embedded journal: one SQLite file beside the store, written with group commit.

Appends from every device connection are queued to one writer thread, which writes all that is waiting in
one transaction and one fsync (``synchronous=FULL`` in WAL mode), then wakes every waiting ``append``. Under
load a transaction carries hundreds of frames, so the fsync cost is shared; when idle an append waits for
one commit only. Readers (monitors, in this process or another) read committed rows by offset.

It must never acknowledge (return from ``append``) before the commit that holds the record, and never delete
a row that no checkpoint has confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kuzet.domain.reports import DeviceReport

from .base import DEFAULT_PARTITIONS, JournalEntry, JournalUnavailable, Routing, decode_or_reject, encode_report

log = logging.getLogger("kuzet.journal")

STREAM = "embedded"
#: How often a reader that is not woken by a commit in its own process (the monitor process of ``kuzet serve``)
#: looks for new rows: a bound on what it adds to the time from arrival to alert.
POLL_S = 0.02

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    "offset" INTEGER PRIMARY KEY,
    partition INTEGER NOT NULL,
    device TEXT NOT NULL,
    protocol TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_confirmed (
    name TEXT PRIMARY KEY,
    "offset" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_rejected (
    "offset" INTEGER PRIMARY KEY,
    protocol TEXT NOT NULL,
    body BLOB NOT NULL,
    reader TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


def _connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is fsynced at every commit, so a committed (acknowledged) record survives power loss.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


@dataclass
class _Batch:
    rows: list[tuple[int, str, str, bytes]]
    done: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


@dataclass
class GroupCommitStats:
    commits: int = 0
    records: int = 0
    largest: int = 0
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=list)


class EmbeddedJournal(Routing):
    """A durable journal in one SQLite file (``var/journal.db`` by default)."""

    def __init__(self, path: str | Path, *, partitions: int = DEFAULT_PARTITIONS,
                 max_backlog: int = 5_000_000, release_every_s: float = 5.0) -> None:
        self.path = str(path)
        self.partitions = partitions
        self.max_backlog = max_backlog
        self.release_every_s = release_every_s
        self.stats = GroupCommitStats()
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._head = 0
        self._confirmed: dict[str, int] = {}
        #: The lowest confirmed offset (kept up to date: the backlog is checked on every append).
        self._low = 0
        self._lock = threading.Lock()
        self._failure: Exception | None = None
        self.links = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._thread is not None:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(self.path)
        conn.executescript(_SCHEMA)
        self._head = _high_water(conn)
        for name, offset in conn.execute('SELECT name, "offset" FROM journal_confirmed').fetchall():
            self._confirm(name, offset)
        self._thread = threading.Thread(target=self._writer, args=(conn,), name="journal-writer", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    # -- writing -------------------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Records appended but not yet confirmed by every reader that has confirmed anything."""
        return self._head - self._low

    async def append(self, reports: Sequence[DeviceReport], *, protocol: str) -> None:
        if not reports:
            return
        if self._thread is None:
            raise JournalUnavailable("the embedded journal is not started")
        if self.backlog > self.max_backlog:
            raise JournalUnavailable(f"journal backlog {self.backlog} exceeds {self.max_backlog}: "
                                     "the monitor is not keeping up (is the store down?)")
        rows = []
        for r in reports:
            body = encode_report(r)
            rows += [(p, r.device, protocol, body) for p in self.partitions_of(r.device)]
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Batch(rows, done, loop))
        await done

    def _writer(self, conn: sqlite3.Connection) -> None:
        last_release = time.monotonic()
        running = True
        while running:
            first = self._queue.get()
            if first is None:
                break
            batches = [first]
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    running = False
                    break
                batches.append(nxt)
            rows = [row for b in batches for row in b.rows]
            error: Exception | None = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                # Offsets are given here, never left to SQLite: it would number the first row of an empty table
                # 1 again, and a journal whose confirmed rows were all released would then hand out offsets
                # its readers have long passed (they read only above their checkpoint: the rows were lost).
                base = max(self._head, _high_water(conn))
                conn.executemany('INSERT INTO journal ("offset", partition, device, protocol, body) '
                                 "VALUES (?, ?, ?, ?, ?)", [(base + i, *row) for i, row in enumerate(rows, 1)])
                head = base + len(rows)
                conn.execute("COMMIT")
                self._head = head
                self.stats.commits += 1
                self.stats.records += len(rows)
                self.stats.largest = max(self.stats.largest, len(rows))
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                error = JournalUnavailable(f"embedded journal {self.path}: {exc}")
            # One wake-up per event loop for the whole commit, not one per frame: each call_soon_threadsafe
            # writes to the loop's self-pipe, and a commit carries hundreds of frames.
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for b in batches:
                by_loop.setdefault(b.loop, []).append(b.done)
            for loop, futures in by_loop.items():
                loop.call_soon_threadsafe(_settle, futures, error)
            if error is None:
                with self._lock:
                    waiters = list(self.stats.waiters)
                for loop, event in waiters:
                    loop.call_soon_threadsafe(event.set)
            if time.monotonic() - last_release > self.release_every_s:
                last_release = time.monotonic()
                self._release(conn)
        self._release(conn)
        conn.close()

    def _release(self, conn: sqlite3.Connection) -> None:
        """Delete rows that every known reader has checkpointed.

        Readers in this process confirm in memory, readers in other processes (``kuzet serve``'s monitor
        process) in ``journal_confirmed``: both are merged here, each name keeping its highest offset.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
            _record_confirmed(conn, list(self._confirmed.items()))
            stored = dict(conn.execute('SELECT name, "offset" FROM journal_confirmed').fetchall())
            if stored:
                conn.execute('DELETE FROM journal WHERE "offset" <= ?', (min(stored.values()),))
            conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return
        for name, offset in stored.items():
            self._confirm(name, offset)

    # -- reading -------------------------------------------------------------------------------------
    async def reader(self, name: str, partitions: Sequence[int] | None,
                     start_after: Mapping[str, int]) -> EmbeddedReader:
        if self._thread is None:
            await self.start()
        reader = EmbeddedReader(self, name, partitions, start_after.get(STREAM, 0))
        with self._lock:
            self.stats.waiters.append((asyncio.get_running_loop(), reader.wakeup))
        self._confirm(name, start_after.get(STREAM, 0))
        return reader

    def _confirm(self, name: str, offset: int) -> None:
        self._confirmed[name] = max(offset, self._confirmed.get(name, 0))
        self._low = min(self._confirmed.values())

    def _forget(self, reader: EmbeddedReader) -> None:
        with self._lock:
            self.stats.waiters = [w for w in self.stats.waiters if w[1] is not reader.wakeup]


def _high_water(conn: sqlite3.Connection) -> int:
    """The highest offset ever given: the highest row left, or, when every row was released, the highest
    confirmed offset (rows are released only once confirmed, so that is at least the last one given)."""
    row = conn.execute('SELECT COALESCE(MAX("offset"), 0) FROM journal').fetchone()[0]
    confirmed = conn.execute('SELECT COALESCE(MAX("offset"), 0) FROM journal_confirmed').fetchone()[0]
    return max(int(row), int(confirmed))


@contextlib.contextmanager
def _write_once(path: str) -> Iterator[sqlite3.Connection]:
    """One short write transaction from a reader (which holds only a read-only connection): committed on
    leaving, rolled back on an error, which is raised."""
    conn = _connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def _record_confirmed(conn: sqlite3.Connection, offsets: Sequence[tuple[str, int]]) -> None:
    """Upsert readers' confirmed offsets; an offset never goes back (a stale copy cannot undo a newer one)."""
    conn.executemany('INSERT INTO journal_confirmed (name, "offset") VALUES (?, ?) ON CONFLICT(name) '
                     'DO UPDATE SET "offset" = MAX("offset", excluded."offset")', offsets)


def _settle(futures: Sequence[asyncio.Future[None]], error: Exception | None) -> None:
    for done in futures:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


class EmbeddedReader:
    """Reads committed journal rows after an offset (also from another process: it polls when not woken)."""

    def __init__(self, journal: EmbeddedJournal, name: str, partitions: Sequence[int] | None, after: int) -> None:
        self.journal = journal
        self.name = name
        self.partitions = None if partitions is None else sorted(set(partitions))
        self.position = after
        self.wakeup = asyncio.Event()
        self._conn = _connect(journal.path, readonly=True)

    def _read(self, limit: int) -> list[tuple[int, str, bytes]]:
        if self.partitions is None or len(self.partitions) == self.journal.partitions:
            sql = 'SELECT "offset", protocol, body FROM journal WHERE "offset" > ? ORDER BY "offset" LIMIT ?'
            return self._conn.execute(sql, (self.position, limit)).fetchall()
        marks = ",".join("?" * len(self.partitions))
        sql = (f'SELECT "offset", protocol, body FROM journal WHERE "offset" > ? AND partition IN ({marks}) '
               'ORDER BY "offset" LIMIT ?')
        return self._conn.execute(sql, (self.position, *self.partitions, limit)).fetchall()

    def _read_entries(self, limit: int) -> tuple[list[JournalEntry], int | None]:
        """The next readable entries, and the offset of the last row read (readable or not)."""
        rows = self._read(limit)
        entries = []
        for off, proto, body in rows:
            report = decode_or_reject(body, f"{self.journal.path} offset {off}")
            if report is None:
                self._set_aside(off, proto, body)
            else:
                entries.append(JournalEntry(STREAM, off, proto, report))
        return entries, (rows[-1][0] if rows else None)

    def _set_aside(self, offset: int, protocol: str, body: bytes) -> None:
        """Keep an unreadable row in ``journal_rejected`` (the journal releases read rows in time)."""
        try:
            with _write_once(self.journal.path) as conn:
                conn.execute("INSERT OR IGNORE INTO journal_rejected (\"offset\", protocol, body, reader) "
                             "VALUES (?, ?, ?, ?)", (offset, protocol, body, self.name))
        except sqlite3.Error as exc:
            log.error("could not keep journal offset %s in journal_rejected: %s", offset, exc)

    async def fetch(self, max_entries: int, wait_s: float) -> list[JournalEntry]:
        deadline = time.monotonic() + wait_s
        while True:
            self.wakeup.clear()
            entries, last = await asyncio.to_thread(self._read_entries, max_entries)
            if last is not None:
                self.position = last
            if entries:
                return entries
            if last is not None:
                continue  # only unreadable rows: read on
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                # Woken by a commit in this process; polls for writers in other processes.
                await asyncio.wait_for(self.wakeup.wait(), timeout=min(remaining, POLL_S))

    async def confirm(self, offsets: Mapping[str, int]) -> None:
        """Record that everything up to the offset is checkpointed: in memory for a writer in this process,
        and in the file for a writer in another (it runs rarely: once per monitor checkpoint)."""
        if STREAM not in offsets:
            return
        offset = offsets[STREAM]
        self.journal._confirm(self.name, offset)
        await asyncio.to_thread(self._record, offset)

    def _record(self, offset: int) -> None:
        with _write_once(self.journal.path) as conn:
            _record_confirmed(conn, [(self.name, offset)])

    async def close(self) -> None:
        self.journal._forget(self)
        self._conn.close()
