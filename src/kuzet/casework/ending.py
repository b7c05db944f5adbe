"""The end of supervision: expiry of the order, early release, revocation. The device is recovered.

Ending writes the last version of the order (status ``ended`` or ``revoked``), sets the person's status to
``ended``, closes every open device assignment and puts the device in the fleet's ``removed`` state (taken
off the person, waiting at the unit to be checked and returned to stock), through the device lifecycle when
the device's state allows it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.store.models import Assignment, CourtOrder, Device, Person

from .errors import CaseworkError
from .models import SupervisionEnd
from .orders import latest_version, vary_order
from .registration import person_of
from .vocabulary import EndReason, Variation

#: The fleet's status for a device taken off the person at the end of supervision.
RECOVERED_DEVICE_STATUS = "removed"

_VARIATION = {EndReason.EXPIRY: Variation.EXPIRY, EndReason.EARLY_RELEASE: Variation.EARLY_RELEASE,
              EndReason.REVOCATION: Variation.REVOCATION}


def recover_devices(session: Session, actor: Actor, person_id: int, *, at: datetime, reason: str) -> list[str]:
    """Close the person's open assignments and mark each device removed; returns their serials."""
    from kuzet.devices import lifecycle

    serials: list[str] = []
    open_rows = session.execute(select(Assignment).where(Assignment.person_id == person_id,
                                                         Assignment.removed_at.is_(None))).scalars().all()
    for assignment in open_rows:
        device = session.get(Device, assignment.device_id)
        if device is None:
            continue
        try:
            lifecycle.remove_device(session, actor, device.serial, reason=reason, at=at)
        except ValueError:
            # A state the fleet's machine does not expect (e.g. imported data): close it here.
            assignment.removed_at = at
            assignment.note = (assignment.note + "\n" if assignment.note else "") + f"removed: {reason}"
            device.status = RECOVERED_DEVICE_STATUS
        serials.append(device.serial)
    if serials:
        record(session, actor, "update", "device_recovery", person_id, person_id=person_id,
               purpose="end of supervision", detail={"devices": serials})
    return serials


def end_supervision(session: Session, actor: Actor, person_id: int, reason: EndReason | str, *, at: datetime,
                    note: str = "") -> SupervisionEnd:
    try:
        reason = EndReason(reason)
    except ValueError:
        raise CaseworkError(f"unknown end {reason!r} (expiry, early_release or revocation)", field="reason") from None
    if at.tzinfo is None:
        raise CaseworkError("must carry a time zone", field="at")
    at = at.astimezone(UTC)
    person = person_of(session, person_id)
    if session.execute(select(SupervisionEnd.id).where(SupervisionEnd.person_id == person.id)).first():
        raise CaseworkError(f"supervision of {person.code} has already ended", field="person_id")
    current = latest_version(session, person.id)
    if current is None:
        raise CaseworkError(f"person {person.code} has no order", field="person_id")
    status = "revoked" if reason is EndReason.REVOCATION else "ended"
    order = vary_order(session, actor, person.id, _VARIATION[reason], effective_from=max(at, current.effective_from),
                       changes={"status": status})
    devices = recover_devices(session, actor, person.id, at=at, reason=f"end of supervision: {reason.value}")
    person.status = "ended"
    end = SupervisionEnd(person_id=person.id, reason=reason.value, ended_at=at, order_id=order.id,
                         devices_recovered=devices, note=note, recorded_by=actor.user_id)
    session.add(end)
    session.flush()
    record(session, actor, "create", "supervision_end", end.id, person_id=person.id, purpose="end of supervision",
           detail={"reason": reason.value, "devices": devices})
    return end


def end_expired_orders(session: Session, actor: Actor, today: date, *, at: datetime) -> list[SupervisionEnd]:
    """End the supervision of everyone whose latest order version ended before ``today``."""
    ended: list[SupervisionEnd] = []
    people = session.execute(select(Person).where(Person.status != "ended")).scalars().all()
    for person in people:
        order = latest_version(session, person.id)
        if isinstance(order, CourtOrder) and order.end_date is not None and order.end_date < today:
            ended.append(end_supervision(session, actor, person.id, EndReason.EXPIRY, at=at,
                                         note=f"order ended on {order.end_date}"))
    return ended
