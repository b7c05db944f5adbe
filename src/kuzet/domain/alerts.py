"""Alert episodes: a violation with a start, an end (or open), a severity, a confidence and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .enums import AlertType, Severity
from .errors import DomainError
from .timeutil import format_utc, parse_utc


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    subject: str
    type: AlertType
    start: datetime
    raised_at: datetime
    severity: Severity
    target: str | None = None
    end: datetime | None = None
    confidence: float = 1.0
    late: bool = False
    evidence: tuple[int, ...] = ()
    device: str | None = None
    rule: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_open(self) -> bool:
        return self.end is None

    @property
    def key(self) -> tuple[str, AlertType, str | None, datetime]:
        """Identity of an episode: the same violation raised twice has the same key."""
        return (self.subject, self.type, self.target, self.start)

    def closed(self, end: datetime) -> AlertEpisode:
        return replace(self, end=end)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "type": self.type.value,
            "target": self.target,
            "start": format_utc(self.start),
            "end": None if self.end is None else format_utc(self.end),
            "raised_at": format_utc(self.raised_at),
            "severity": self.severity.value,
            "confidence": round(self.confidence, 3),
            "late": self.late,
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertEpisode:
        try:
            atype = AlertType(str(data.get("type")))
        except ValueError:
            raise DomainError(f"unknown alert type {data.get('type')!r}", field="type") from None
        try:
            severity = Severity(data.get("severity", "high"))
        except ValueError:
            raise DomainError(f"unknown severity {data.get('severity')!r}", field="severity") from None
        start = parse_utc(data.get("start"), field="start")  # type: ignore[arg-type]
        end_raw = data.get("end")
        raised = data.get("raised_at")
        return cls(
            subject=str(data.get("subject")),
            type=atype,
            target=data.get("target"),
            start=start,
            end=None if end_raw is None else parse_utc(end_raw, field="end"),
            raised_at=start if raised is None else parse_utc(raised, field="raised_at"),
            severity=severity,
            confidence=float(data.get("confidence", 1.0)),
            late=bool(data.get("late", False)),
            evidence=tuple(int(x) for x in data.get("evidence") or ()),
            extra={k: v for k, v in data.items() if k == "ambiguous"},
        )
