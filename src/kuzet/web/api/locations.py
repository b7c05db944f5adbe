"""API v1: live positions, trails, and the server-sent event stream of positions and alerts.

Every location leaves through :mod:`kuzet.web.services.locations`, which checks scope and writes the
audit trail with the caller's purpose. The event stream records one audited read when it opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import orjson
from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from kuzet.auth.service import principal_for, resolve_api_token, resolve_ui_session
from kuzet.domain.enums import Role
from kuzet.web.deps import SESSION_COOKIE, Principal, bearer_token, get_session, require_roles
from kuzet.web.services import alerts as alert_svc
from kuzet.web.services import locations as svc

from .schemas import ID_MAX, AlertOut, FixOut, LivePositionOut

router = APIRouter(prefix="/api/v1", tags=["locations"])
location_readers = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR)


@router.get("/positions", response_model=list[LivePositionOut])
def live_positions(purpose: Annotated[str, Query(min_length=3, max_length=300)] = svc.LIVE_PURPOSE,
                   principal: Principal = Depends(location_readers),
                   session: Session = Depends(get_session)) -> list[LivePositionOut]:
    """The latest fix of every person in the caller's scope, with their open alert count."""
    return [LivePositionOut.model_validate(p) for p in svc.live_positions(session, principal, purpose=purpose)]


@router.get("/people/{person_id}/trail", response_model=list[FixOut])
def trail(person_id: Annotated[int, Path(ge=1, le=ID_MAX)], start: datetime, end: datetime,
          purpose: Annotated[str, Query(min_length=3, max_length=300, description="why (audited)")],
          principal: Principal = Depends(location_readers),
          session: Session = Depends(get_session)) -> list[FixOut]:
    """A person's fixes in ``[start, end)`` (at most 31 days), each with its accuracy radius."""
    return [FixOut.model_validate(f) for f in svc.trail(session, principal, person_id, start, end,
                                                        purpose=purpose)]


def _event(kind: str, data: object) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get("/stream", include_in_schema=False)
async def stream(request: Request, principal: Principal = Depends(location_readers)) -> StreamingResponse:
    """Server-sent events: ``position`` (a person's newest fix) and ``alert`` (new or changed alerts)."""
    factory = request.app.state.sessions
    interval = float(getattr(request.app.state, "stream_interval_s", 1.0))

    def first() -> tuple[int, int]:
        with factory() as session:
            svc.live_positions(session, principal, purpose="live map stream", audit=True)
            session.commit()
            return svc.latest_report_id(session), alert_svc.latest_alert_id(session)

    token = bearer_token(request)
    cookie = request.cookies.get(SESSION_COOKIE)

    def still_allowed(session: Session) -> bool:
        """The stream ends when the session or token ends, or the user's role or scope changes."""
        user = resolve_api_token(session, token) if token else (
            resolve_ui_session(session, cookie) if cookie else None)
        return user is not None and principal_for(user) == principal

    def poll(last_report: int, last_alert: int) -> tuple[list[bytes], int, int] | None:
        events: list[bytes] = []
        with factory() as session:
            if not still_allowed(session):
                return None
            newest = svc.latest_report_id(session)
            if newest > last_report:
                for p in svc.live_positions(session, principal, since_id=last_report, audit=False):
                    events.append(_event("position", LivePositionOut.model_validate(p).model_dump(mode="json")))
            newest_alert = alert_svc.latest_alert_id(session)
            if newest_alert > last_alert:
                for a in alert_svc.list_alerts(session, principal, open_only=True, limit=50,
                                               purpose="live map stream"):
                    if a.id > last_alert:
                        events.append(_event("alert", AlertOut.model_validate(a).model_dump(mode="json")))
                session.commit()
            return events, newest, newest_alert

    async def body() -> AsyncIterator[bytes]:
        last_report, last_alert = await to_thread.run_sync(first)
        yield b"retry: 2000\n\n"
        while not await request.is_disconnected():
            polled = await to_thread.run_sync(poll, last_report, last_alert)
            if polled is None:
                yield _event("end", {"reason": "signed out"})
                return
            events, last_report, last_alert = polled
            for e in events:
                yield e
            if not events:
                yield b": keep-alive\n\n"
            await asyncio.sleep(interval)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
