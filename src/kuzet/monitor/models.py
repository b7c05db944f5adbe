"""The pipeline's own tables: monitor checkpoints, and the leases of the work only one process may do.

A checkpoint row is written in the same transaction as the positions and alert episodes it covers, so the
store never holds writes that the checkpoint does not account for, nor the reverse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.store.models import Base, utcnow


class MonitorCheckpoint(Base):
    """Where a monitor (one per partition set) has got to: journal offsets and the engine's snapshot."""

    __tablename__ = "pipeline_checkpoints"
    #: The consumer: ``embedded``, or ``monitor-<partitions>-of-<N>`` for a NATS monitor.
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    #: Journal stream key (``embedded`` or ``p<N>``) to the last offset whose effects are stored.
    offsets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    #: Fingerprint of the plan the snapshot was taken under.
    plan_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerLease(Base):
    """Who does a piece of work that exactly one process may do (the alert worker, the periodic jobs), until when.

    Taken and renewed by :func:`kuzet.pipeline.leases.take_lease`; a holder that stops renewing loses it when
    it expires, and another process takes over.
    """

    __tablename__ = "pipeline_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
