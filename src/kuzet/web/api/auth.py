"""API authentication: exchange a password (and TOTP code) for a bearer token; who am I; revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kuzet.auth import service as auth
from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, current_principal, get_session

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    totp: str | None = Field(default=None, max_length=12)
    name: str = Field(default="", max_length=100)


class TokenResponse(BaseModel):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type name
    expires_at: datetime


class Me(BaseModel):
    user_id: int
    username: str
    role: Role
    region_id: int | None
    unit_id: int | None
    partner_id: int | None
    locale: str
    timezone: str


@router.post("/auth/token", response_model=TokenResponse, openapi_extra={"x-kuzet-public": True},
             responses={401: {"description": "wrong credentials or second factor"},
                        423: {"description": "account locked after repeated failures"}})
def create_token(body: TokenRequest, session: Session = Depends(get_session)) -> TokenResponse:
    """Sign in with a password (and a TOTP code when enrolled) and receive a bearer token."""
    result = auth.authenticate(session, body.username, body.password, totp_code=body.totp)
    if result.outcome is auth.LoginOutcome.LOCKED:
        session.commit()
        raise HTTPException(status.HTTP_423_LOCKED, f"account locked until {result.locked_until}")
    if not result.ok or result.user is None:
        session.commit()  # keep the failure count
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, result.outcome.value)
    token = auth.issue_api_token(session, result.user, name=body.name)
    return TokenResponse(token=token, expires_at=auth.token_expiry(session, token))


@router.get("/me", response_model=Me)
def me(principal: Principal = Depends(current_principal)) -> Me:
    """The signed-in user and the scope their role works in."""
    return Me(user_id=principal.user_id, username=principal.username, role=principal.role,
              region_id=principal.region_id, unit_id=principal.unit_id, partner_id=principal.partner_id,
              locale=principal.locale, timezone=principal.timezone)


@router.delete("/auth/token", status_code=204)
def revoke_token(request: Request, principal: Principal = Depends(current_principal),
                 session: Session = Depends(get_session)) -> None:
    """Revoke the bearer token used for this request."""
    header = request.headers.get("authorization", "")
    _, _, token = header.partition(" ")
    if not token or not auth.revoke_api_token(session, token.strip()):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "this request was not made with a bearer token")
