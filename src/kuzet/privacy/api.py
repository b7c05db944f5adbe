"""HTTP API of the privacy capability: crime-scene questions, court holds, retention, purge, subject access.

Every route declares its authorisation rule: crime-scene questions are for the police liaison only (a refused
attempt is audited); the auditor reads holds, retention and the purge log; the administrator also places and
releases holds, runs the purge and answers data-subject access requests. Handlers only translate HTTP to the
service functions (no SQL here).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kuzet.domain.enums import Role
from kuzet.domain.errors import DomainError
from kuzet.web.deps import RULE_ATTRIBUTE, Principal, current_principal, get_session, require_roles

from .matching import CrimeSceneQuery, MatchQueryError, MatchRefused, match_crime_scene, record_refusal
from .retention import HoldError, active_holds, hold_json, place_hold, purge, purge_log, release_hold
from .subject_access import SubjectNotFound, export_subject

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])

_police_role = require_roles(Role.POLICE_LIAISON)
oversight = require_roles(Role.AUDITOR, Role.ADMINISTRATOR)
administrator = require_roles(Role.ADMINISTRATOR)


def police_only(request: Request) -> Principal:
    """The police liaison only; any other signed-in caller's attempt is refused with 403 and audited."""
    try:
        return _police_role(request)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_403_FORBIDDEN:
            _audit_refusal(request, current_principal(request), str(exc.detail))
        raise


setattr(police_only, RULE_ATTRIBUTE, getattr(_police_role, RULE_ATTRIBUTE))


def _audit_refusal(request: Request, principal: Principal, why: str, body: CrimeSceneQueryIn | None = None
                   ) -> None:
    """Record a refused question in its own transaction (the request's own is rolled back)."""
    with request.app.state.sessions.begin() as session:
        record_refusal(session, principal.actor, why, case_reference=body.case_reference if body else "",
                       reason=body.reason if body else "", place=body.place if body else None)



class CrimeSceneQueryIn(BaseModel):
    place: dict[str, Any] = Field(description='the place: {"type": "Circle", "coordinates": [lon, lat], '
                                              '"radius_m": 500} or {"type": "Polygon", "coordinates": [...]}')
    start: datetime = Field(description="window start (inclusive), with time zone")
    end: datetime = Field(description="window end (exclusive), with time zone")
    case_reference: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=300)


class HoldIn(BaseModel):
    case_reference: str = Field(min_length=1, max_length=120)
    reason: str = ""
    person_id: int | None = None
    range_start: datetime | None = None
    range_end: datetime | None = None


class ReleaseIn(BaseModel):
    reason: str = Field(min_length=1)


@router.post("/crime-scene-queries")
def ask_crime_scene(body: CrimeSceneQueryIn, request: Request, principal: Principal = Depends(police_only),
                    session: Session = Depends(get_session)) -> dict[str, Any]:
    """Who under monitoring was at this place in this window, who was elsewhere, who has no data (audited)."""
    try:
        query = CrimeSceneQuery.from_json(body.model_dump(mode="json"))
        return match_crime_scene(session, principal.actor, query).to_json()
    except (MatchRefused, MatchQueryError, DomainError) as exc:
        session.rollback()
        _audit_refusal(request, principal, str(exc), body)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get("/holds")
def list_holds(principal: Principal = Depends(oversight), session: Session = Depends(get_session)
               ) -> list[dict[str, Any]]:
    """Court holds in force."""
    return [hold_json(h) for h in active_holds(session)]


@router.post("/holds", status_code=status.HTTP_201_CREATED)
def create_hold(body: HoldIn, principal: Principal = Depends(administrator),
                session: Session = Depends(get_session)) -> dict[str, Any]:
    """Place a court hold on a person and/or a time range."""
    try:
        hold = place_hold(session, principal.actor, case_reference=body.case_reference, reason=body.reason,
                          person_id=body.person_id, range_start=body.range_start, range_end=body.range_end)
    except HoldError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return hold_json(hold)


@router.post("/holds/{hold_id}/release")
def end_hold(hold_id: int, body: ReleaseIn, principal: Principal = Depends(administrator),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    """Release a court hold (it stays on record)."""
    try:
        return hold_json(release_hold(session, principal.actor, hold_id, reason=body.reason))
    except HoldError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND if "no court hold" in str(exc)
                            else status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("/retention")
def retention_policy(request: Request, principal: Principal = Depends(oversight)) -> dict[str, int]:
    """Days each data category is kept."""
    return dict(request.app.state.settings.retention_days)


@router.get("/purge-log")
def list_purges(principal: Principal = Depends(oversight), session: Session = Depends(get_session),
                limit: int = 200) -> list[dict[str, Any]]:
    """What the purge job deleted, newest first."""
    return [{"run_id": e.run_id, "category": e.category, "cutoff": e.cutoff.isoformat(), "deleted": e.deleted,
             "held": e.held, "oldest": e.oldest.isoformat() if e.oldest else None,
             "newest": e.newest.isoformat() if e.newest else None, "detail": e.detail, "at": e.at.isoformat(),
             "actor": e.actor} for e in purge_log(session, limit=min(max(limit, 1), 1000))]


@router.post("/purge")
def run_purge(request: Request, principal: Principal = Depends(administrator),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    """Delete what has expired now (never what a court hold protects)."""
    return purge(session, settings=request.app.state.settings, actor=principal.actor).to_json()


class SubjectAccessIn(BaseModel):
    purpose: str = Field(min_length=5, max_length=300, description="the request being answered, e.g. its date "
                                                                   "and reference")


@router.post("/subject-access/{person_code}", response_class=Response,
             responses={200: {"content": {"application/zip": {}},
                              "description": "bundle/ (exchange format), records.json, subject-access.pdf"}})
def subject_access(person_code: str, body: SubjectAccessIn, principal: Principal = Depends(administrator),
                   session: Session = Depends(get_session)) -> Response:
    """Everything held about a person, as a ZIP of the exchange bundle, the records and a PDF (audited)."""
    with tempfile.TemporaryDirectory(prefix="kuzet-sar-") as tmp:
        root = Path(tmp) / person_code.replace("/", "_")
        try:
            export_subject(session, principal.actor, person_code, root, purpose=body.purpose.strip())
        except SubjectNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root).as_posix())
    name = f"subject-access-{person_code}.zip".replace('"', "")
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
