"""Anchors of the audit chain: signed snapshots of its head, so deleting the newest rows is detectable.

The chain alone shows an edited, inserted or deleted row *inside* it, but not the removal of its last
rows. An anchor records the head (last id, its hash, the number of rows) with an HMAC under the secret key;
verification checks that every anchored head is still in the chain with the same hash. Part of the ``web``
migration branch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.store.models import Base, utcnow


class AuditAnchor(Base):
    __tablename__ = "audit_anchors"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    last_entry_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    mac: Mapped[str] = mapped_column(String(64))


class AuditChainStart(Base):
    """Where the audit chain starts after retention pruned its oldest entries.

    The first kept entry's ``prev_hash`` is the hash of the last deleted one; this row records both, with
    the number of entries every prune so far has deleted, under an HMAC with the secret key. Verification
    starts the chain there, so that a pruned trail still proves every kept entry, and a prefix deleted
    without the key (no signed start for it) is still detected.
    """

    __tablename__ = "audit_chain_starts"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    first_entry_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: Entries this prune deleted, and every prune so far (anchors taken before a prune count those too).
    deleted: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    deleted_total: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    deleted_through: Mapped[datetime | None] = mapped_column(nullable=True)
    mac: Mapped[str] = mapped_column(String(64))
