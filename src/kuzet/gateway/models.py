"""The gateway's own table: commands queued to devices (sent when the device connects)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.store.models import Base, utcnow


class DeviceCommand(Base):
    """One command for one device: queued, then sent over the device's next connection, then acknowledged."""

    __tablename__ = "device_commands"
    __table_args__ = (Index("ix_device_commands_serial_status", "device_serial", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_serial: Mapped[str] = mapped_column(String(64))
    #: ``locate`` (an on-demand position), ``message`` (text to the wearer) or a protocol's raw ``text``.
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``queued`` -> ``sent`` -> ``acknowledged`` (or ``failed``).
    status: Mapped[str] = mapped_column(String(16), default="queued")
    protocol: Mapped[str] = mapped_column(String(32), default="")
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
