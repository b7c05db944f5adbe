"""Errors that callers can act on: each names what was wrong and where."""

from __future__ import annotations


class DomainError(ValueError):
    """A value that breaks a domain rule. ``field`` names the offending field when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def within(self, prefix: str) -> DomainError:
        """Return the same error with ``prefix`` prepended to its field path."""
        path = f"{prefix}.{self.field}" if self.field else prefix
        return type(self)(self.message, field=path)


class ShapeError(DomainError):
    """An invalid zone geometry."""


class ScheduleError(DomainError):
    """An invalid schedule window or exception."""


class ReportError(DomainError):
    """An invalid device report."""
