"""The device lifecycle as an explicit state machine: which step is allowed from which state.

Pure: no database, no clock. The services in :mod:`kuzet.devices.lifecycle` ask :func:`next_status` before
every change, so that an impossible step (fitting a lost device, repairing a device still on a leg, anything
after a write-off) is refused with a message that says why and what would be allowed.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import TransitionRefused


class DeviceStatus(StrEnum):
    IN_STOCK = "in_stock"
    FITTED = "fitted"
    #: Handed to a protected person (a victim's device), not worn by the supervised person.
    ISSUED = "issued"
    REMOVED = "removed"
    IN_REPAIR = "in_repair"
    LOST = "lost"
    WRITTEN_OFF = "written_off"


class LifecycleAction(StrEnum):
    REGISTER = "register"
    FIT = "fit"
    REMOVE = "remove"
    RETURN_TO_STOCK = "return_to_stock"
    SEND_TO_REPAIR = "send_to_repair"
    REPORT_LOST = "report_lost"
    REPORT_FOUND = "report_found"
    WRITE_OFF = "write_off"
    MOVE = "move"


S = DeviceStatus
#: For each step: the states it may start from, and the state it leads to (``None``: the state is kept).
TRANSITIONS: dict[LifecycleAction, tuple[frozenset[DeviceStatus], DeviceStatus | None]] = {
    LifecycleAction.FIT: (frozenset({S.IN_STOCK}), S.FITTED),
    LifecycleAction.REMOVE: (frozenset({S.FITTED, S.ISSUED}), S.REMOVED),
    LifecycleAction.RETURN_TO_STOCK: (frozenset({S.REMOVED, S.IN_REPAIR}), S.IN_STOCK),
    LifecycleAction.SEND_TO_REPAIR: (frozenset({S.IN_STOCK, S.REMOVED}), S.IN_REPAIR),
    LifecycleAction.REPORT_LOST: (frozenset({S.IN_STOCK, S.FITTED, S.ISSUED, S.REMOVED, S.IN_REPAIR}), S.LOST),
    LifecycleAction.REPORT_FOUND: (frozenset({S.LOST}), S.REMOVED),
    LifecycleAction.WRITE_OFF: (frozenset({S.IN_STOCK, S.REMOVED, S.IN_REPAIR, S.LOST}), S.WRITTEN_OFF),
    LifecycleAction.MOVE: (frozenset({S.IN_STOCK, S.REMOVED}), None),
}

_HINTS: dict[DeviceStatus, str] = {
    S.FITTED: "remove it from the person first",
    S.ISSUED: "take it back from the protected person first",
    S.LOST: "report it found first",
    S.WRITTEN_OFF: "a written-off device never comes back",
    S.IN_REPAIR: "return it to stock from repair first",
    S.REMOVED: "return it to stock after inspection first",
}


def parse_status(value: str) -> DeviceStatus:
    try:
        return DeviceStatus(value)
    except ValueError:
        raise TransitionRefused(f"unknown device status {value!r}", field="status") from None


def next_status(serial: str, current: DeviceStatus | str, action: LifecycleAction) -> DeviceStatus:
    """The state after ``action``; raise :class:`TransitionRefused` naming the device, the state and the way out.

    >>> next_status("KZ-1", "in_stock", LifecycleAction.FIT)
    <DeviceStatus.FITTED: 'fitted'>
    """
    status = parse_status(current) if isinstance(current, str) else current
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        starts = ", ".join(sorted(s.value for s in allowed))
        hint = _HINTS.get(status, "")
        raise TransitionRefused(
            f"cannot {action.value.replace('_', ' ')} device {serial}: it is {status.value.replace('_', ' ')}; "
            f"this step needs a device that is {starts}" + (f" ({hint})" if hint else ""),
            field="status",
        )
    return status if target is None else target


def allowed_actions(current: DeviceStatus | str) -> list[LifecycleAction]:
    """The steps possible from ``current`` (the UI offers only these)."""
    status = parse_status(current) if isinstance(current, str) else current
    return [action for action, (starts, _) in TRANSITIONS.items() if status in starts]
