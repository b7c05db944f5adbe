"""Retention of positions: delete device reports older than the configured period, except court-held people.

``purge_positions`` is the one function the privacy area's general purge job calls for positions; it decides
nothing about holds itself (the caller passes the people whose trails a court has ordered kept). Deletion
runs in chunks so that the live monitor's writes are never blocked for long.

It must never delete a report newer than ``before``, nor one of a protected (held) person.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from kuzet.settings import Settings
from kuzet.store.models import DeviceReportRecord


def purge_positions(session: Session, before: datetime, protected_person_ids: Set[int], *,
                    chunk: int = 20_000) -> int:
    """Delete device reports whose ``time`` is before ``before``, keeping those of ``protected_person_ids``.

    Returns how many rows were deleted. Runs in the caller's transaction, one chunk per statement.
    """
    if before.tzinfo is None:
        raise ValueError("purge_positions needs a timezone-aware 'before' (UTC)")
    keep = sorted(protected_person_ids)
    from kuzet.store.partitions import drop_expired

    # On PostgreSQL whole expired days go with their partitions; what remains is deleted row by row.
    total = drop_expired(session, before, DeviceReportRecord.person_id.in_(keep) if keep else None)
    while True:
        query = select(DeviceReportRecord.id).where(DeviceReportRecord.time < before)
        if keep:
            query = query.where(or_(DeviceReportRecord.person_id.is_(None),
                                    DeviceReportRecord.person_id.not_in(keep)))
        ids = list(session.execute(query.limit(chunk)).scalars())
        if not ids:
            return total
        session.execute(delete(DeviceReportRecord).where(DeviceReportRecord.id.in_(ids)))
        total += len(ids)


def positions_cutoff(settings: Settings, now: datetime) -> datetime:
    """The oldest position time still kept under ``settings.retention_days["positions"]``."""
    return now - timedelta(days=settings.retention_days["positions"])
