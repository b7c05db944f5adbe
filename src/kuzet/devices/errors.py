"""Errors of the device fleet: each names the device, what was asked and why it cannot be done."""

from __future__ import annotations

from kuzet.access.policy import NotVisible
from kuzet.domain.errors import DomainError


class FleetError(DomainError):
    """A fleet operation that breaks a rule; the message says what to do instead where there is a way."""


class NotFound(NotVisible, FleetError):
    """A device, person, unit, type, contract or invoice that does not exist, or that the caller may not see
    (HTTP 404 either way: existence is not revealed)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        DomainError.__init__(self, message, field=field)


class TransitionRefused(FleetError):
    """A lifecycle step that is impossible from the device's current state."""


class FittingRefused(FleetError):
    """A fitting that lacks its signed record, its checklist or a working test report, or is unsafe."""


class CatalogueError(FleetError):
    """An invalid device type or procedure, or a change the catalogue does not allow."""


class LeaseError(FleetError):
    """An invalid lease contract or invoice."""
