"""Tables of the privacy capability: the space-time index of positions, court holds and the purge log.

The index tables are derived data: they are rebuilt from ``device_reports`` by the backfill command and must
never hold anything that is not also in ``device_reports`` (a purge removes both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.store.models import Base, utcnow


class PositionCell(Base):
    """One fix of a monitored person, keyed by its H3 cell so that place-and-time queries use a B-tree.

    ``cell`` is the H3 cell of the fix at the resolution its accuracy allows (:data:`kuzet.privacy.index.LEVELS`),
    or ``0`` for fixes too coarse for any level: those are rare and every query reads them.
    """

    __tablename__ = "privacy_position_cells"
    #: Covering: a query reads the index alone (an index-only scan), never the table.
    __table_args__ = (Index("ix_privacy_position_cells_cell_time", "cell", "time", "person_id", "lat", "lon",
                            "accuracy_m"),)
    #: ``device_reports.id`` of the fix (no foreign key: positions may live in time partitions).
    report_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                           autoincrement=False)
    cell: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[datetime] = mapped_column()
    person_id: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)


class TrailHour(Base):
    """What is known of one person in one clock hour: how many fixes, first and last, and their extent.

    Used to tell "has data in the window" (and so can be ruled out) from "no data", without reading fixes.
    """

    __tablename__ = "privacy_trail_hours"
    __table_args__ = (Index("ix_privacy_trail_hours_hour", "hour"),)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    fixes: Mapped[int] = mapped_column(Integer, default=0)
    first_time: Mapped[datetime] = mapped_column()
    last_time: Mapped[datetime] = mapped_column()
    min_lat: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    #: The coarsest accuracy of the hour's fixes, in metres.
    max_accuracy_m: Mapped[float] = mapped_column(Float)


class CourtHold(Base):
    """A court's instruction to keep data: of one person and/or one time range, for a case.

    A hold with neither person nor range protects everything. Released holds stay, for the record.
    """

    __tablename__ = "privacy_court_holds"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_reference: Mapped[str] = mapped_column(String(120))
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    #: Start of the protected range (inclusive); ``None`` means from the beginning.
    range_start: Mapped[datetime | None] = mapped_column(nullable=True)
    #: End of the protected range (exclusive); ``None`` means open-ended.
    range_end: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    placed_by: Mapped[str] = mapped_column(String(64), default="")
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
    released_by: Mapped[str] = mapped_column(String(64), default="")


class PurgeLogEntry(Base):
    """What one purge run deleted for one data category, and which holds kept data back."""

    __tablename__ = "privacy_purge_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    category: Mapped[str] = mapped_column(String(32))
    cutoff: Mapped[datetime] = mapped_column()
    deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Oldest and newest time of what was deleted, when anything was.
    oldest: Mapped[datetime | None] = mapped_column(nullable=True)
    newest: Mapped[datetime | None] = mapped_column(nullable=True)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), default="system")
