"""The alert queue's basics on the core ``alerts`` table: a scoped list and acknowledgement.

The alert-workflow capability (:mod:`kuzet.alerts.workflow`) owns the full workflow (claim, acknowledge,
escalate, close with outcome); these functions are the minimum the map needs, and acknowledgement goes through
the workflow. They never change an alert's facts (start, end, type, evidence), only its place in the workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, NotVisible, alerts_scope, can_read_people
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.store.models import AlertRecord

OPEN_STATUSES = ("new", "claimed", "acknowledged")
_SEVERITY_ORDER = case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=AlertRecord.severity, else_=4)


def list_alerts(session: Session, principal: Principal, *, status: str | None = None,
                person_id: int | None = None, open_only: bool = False, limit: int = 200,
                purpose: str = "alert triage") -> Sequence[AlertRecord]:
    if not can_read_people(principal):
        raise AccessDenied(f"role {principal.role.value} may not see alerts")
    stmt = select(AlertRecord).where(alerts_scope(principal))
    if status:
        stmt = stmt.where(AlertRecord.status == status)
    if open_only:
        stmt = stmt.where(AlertRecord.status.in_(OPEN_STATUSES))
    if person_id is not None:
        stmt = stmt.where(AlertRecord.person_id == person_id)
    stmt = stmt.order_by(_SEVERITY_ORDER, AlertRecord.raised_at.desc(), AlertRecord.id.desc())
    alerts = list(session.execute(stmt.limit(max(1, min(limit, 1000)))).scalars())
    record_read(session, principal.actor, "alert_list", "", person_id=person_id, purpose=purpose,
                detail={"alerts": [a.id for a in alerts][:1000]})
    return alerts


def get_alert(session: Session, principal: Principal, alert_id: int) -> AlertRecord:
    if not can_read_people(principal):
        raise AccessDenied(f"role {principal.role.value} may not see alerts")
    alert = session.execute(select(AlertRecord).where(AlertRecord.id == alert_id, alerts_scope(principal))
                            ).scalar_one_or_none()
    if alert is None:
        raise NotVisible(f"alert {alert_id} not found")
    return alert


def acknowledge_alert(session: Session, principal: Principal, alert_id: int, note: str = "", *,
                      now: datetime | None = None) -> AlertRecord:
    """Mark an alert as seen and being handled by the caller: the alert workflow's acknowledgement (one code
    path for the API, the queue page and the workflow's own page; it claims an unclaimed alert)."""
    from kuzet.alerts import workflow

    if not can_read_people(principal):
        raise AccessDenied(f"role {principal.role.value} may not see alerts")
    return workflow.acknowledge_alert(session, principal, alert_id, note[:2000], now=now)


def latest_alert_id(session: Session) -> int:
    from sqlalchemy import func

    return int(session.execute(select(func.max(AlertRecord.id))).scalar() or 0)
