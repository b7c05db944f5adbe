"""RFC 3339 parsing and formatting in UTC. Naive datetimes are refused, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import DomainError


def parse_utc(text: str, *, field: str | None = None) -> datetime:
    """Parse an RFC 3339 timestamp that carries a zone and return it in UTC.

    >>> parse_utc("2026-11-02T17:01:00Z").isoformat()
    '2026-11-02T17:01:00+00:00'
    """
    if not isinstance(text, str):
        raise DomainError(f"expected an RFC 3339 string, got {type(text).__name__}", field=field)
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise DomainError(f"not an RFC 3339 timestamp: {text!r}", field=field) from None
    if value.tzinfo is None:
        raise DomainError(f"timestamp without a time zone: {text!r}", field=field)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z``; milliseconds only when present.

    >>> from datetime import datetime, UTC
    >>> format_utc(datetime(2026, 11, 2, 17, 1, tzinfo=UTC))
    '2026-11-02T17:01:00Z'
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat truncates to milliseconds as the format wants, and is several times faster than strftime
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds") + "Z"
