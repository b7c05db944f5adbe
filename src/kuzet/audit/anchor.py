"""Anchoring and full verification of the audit trail (``kuzet audit verify``).

:func:`write_anchor` signs the current head; :func:`verify_trail` checks the chain (via
:func:`kuzet.audit.verify`), the signed starts that retention's pruning recorded, and then every anchor: its
signature, and that the anchored entry still exists with the anchored hash (unless retention pruned it) and
that the chain, with what retention pruned, has at least as many rows as then. It never repairs or
rewrites anything: it only reports.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.store.models import AuditEntry

from .chain import start_mac, verify
from .models import AuditAnchor, AuditChainStart


@dataclass(frozen=True, slots=True)
class TrailReport:
    ok: bool
    entries: int
    anchors: int
    problems: tuple[str, ...] = field(default_factory=tuple)


def _mac(key: str, last_id: int, last_hash: str, entries: int) -> str:
    msg = f"{last_id}\n{last_hash}\n{entries}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


def write_anchor(session: Session, key: str, *, now: datetime | None = None) -> AuditAnchor | None:
    """Sign the current head of the chain (``None`` when the trail is empty)."""
    head = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one_or_none()
    if head is None:
        return None
    count = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    anchor = AuditAnchor(at=(now or datetime.now(UTC)), last_entry_id=head.id, last_hash=head.hash,
                         entries=count, mac=_mac(key, head.id, head.hash, count))
    session.add(anchor)
    session.flush()
    return anchor


def anchor_if_moved(session: Session, key: str, *, now: datetime | None = None) -> AuditAnchor | None:
    """Sign the head only when entries were added since the last anchor (the periodic job calls this)."""
    head = session.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    last = session.execute(select(AuditAnchor.last_entry_id).order_by(AuditAnchor.id.desc()).limit(1)).scalar()
    if head is None or head == last:
        return None
    return write_anchor(session, key, now=now)


def verify_trail(session: Session, key: str) -> TrailReport:
    """Check the chain and every anchor; list each problem found (an empty list means intact)."""
    problems: list[str] = []
    chain = verify(session)
    if not chain.ok:
        problems.append(chain.reason)
    starts = list(session.execute(select(AuditChainStart).order_by(AuditChainStart.id)).scalars())
    for start in starts:
        if not hmac.compare_digest(start.mac, start_mac(key, start.first_entry_id, start.prev_hash,
                                                          start.deleted_total)):
            problems.append(f"chain start {start.id}: signature does not match (a prune record altered or "
                            "forged, or the wrong key)")
    first_kept = starts[-1].first_entry_id if starts else 0
    pruned = starts[-1].deleted_total if starts else 0
    count = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    anchors = list(session.execute(select(AuditAnchor).order_by(AuditAnchor.id)).scalars())
    for anchor in anchors:
        if not hmac.compare_digest(anchor.mac, _mac(key, anchor.last_entry_id, anchor.last_hash, anchor.entries)):
            problems.append(f"anchor {anchor.id}: signature does not match (anchor altered or wrong key)")
            continue
        if anchor.last_entry_id >= first_kept:  # an anchor on a pruned entry vouches for the signed start
            entry = session.get(AuditEntry, anchor.last_entry_id)
            if entry is None:
                problems.append(f"anchor {anchor.id}: entry {anchor.last_entry_id} is missing "
                                "(the newest rows were deleted)")
            elif entry.hash != anchor.last_hash:
                problems.append(f"anchor {anchor.id}: entry {anchor.last_entry_id} has a different hash")
        if count + pruned < anchor.entries:
            problems.append(f"anchor {anchor.id}: the trail had {anchor.entries} entries, now {count}"
                            + (f" and {pruned} pruned by retention" if pruned else ""))
    return TrailReport(not problems, count, len(anchors), tuple(problems))
