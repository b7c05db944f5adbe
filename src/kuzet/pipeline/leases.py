"""Leases: the work that exactly one process of a deployment may do, whichever processes run.

``kuzet serve`` runs the alert worker (escalations, messages) and the periodic jobs; a deployment that runs
two ``kuzet serve`` processes against one store, or restarts one while the old one is still stopping, must not
send a message twice or purge twice at once. Each loop takes a named lease in the store before it works and
renews it each time; another process finds it held and waits, and takes it over once it has expired (the
holder stopped or died). The lease is taken in the caller's transaction, so it is committed with the work.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, literal, or_, select
from sqlalchemy.orm import Session

from kuzet.monitor.models import WorkerLease
from kuzet.store.coltypes import UTCDateTime
from kuzet.store.db import upsert_insert


def holder_id() -> str:
    """Who this process is, for a lease: host, process and a random part (a restarted process is someone else)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take_lease(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Hold ``name`` until ``now + ttl`` if it is free, expired or already ours; return whether we hold it."""
    table: Any = WorkerLease.__table__
    stmt = upsert_insert(session, table).values(name=name, holder=holder, expires_at=now + ttl, taken_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": holder, "expires_at": now + ttl,
              "taken_at": case((table.c.holder == holder, table.c.taken_at), else_=literal(now, UTCDateTime()))},
        where=or_(table.c.holder == holder, table.c.expires_at < now))
    session.execute(stmt)
    return session.execute(select(WorkerLease.holder).where(WorkerLease.name == name)).scalar_one() == holder


def record_until(session: Session, name: str, holder: str, until: datetime, now: datetime) -> None:
    """Mark ``name`` as held by ``holder`` until ``until`` whoever held it (a job done until its next run)."""
    stmt = upsert_insert(session, WorkerLease.__table__).values(name=name, holder=holder, expires_at=until,
                                                                taken_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={
        "holder": holder, "expires_at": until, "taken_at": now}))


def held_until(session: Session, prefix: str) -> dict[str, datetime]:
    """Every lease whose name starts with ``prefix``, and when it runs out."""
    rows = session.execute(select(WorkerLease.name, WorkerLease.expires_at)
                           .where(WorkerLease.name.startswith(prefix))).all()
    return {name: until for name, until in rows}
