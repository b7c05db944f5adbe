"""Errors of casework: rule breaks the caller can act on (HTTP 422 at the edge) and missing records."""

from __future__ import annotations

from kuzet.domain.errors import DomainError


class CaseworkError(DomainError):
    """A casework rule was broken; ``field`` names the offending input."""


class NoOrderInForce(LookupError):
    """The person had no court order in force at the time asked about."""
