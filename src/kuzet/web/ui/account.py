"""The signed-in user's own account: language, password and two-factor sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from kuzet.auth import service as auth
from kuzet.auth.passwords import WeakPasswordError
from kuzet.store.models import User
from kuzet.web.deps import Principal, current_principal, get_session
from kuzet.web.rendering import render

router = APIRouter(include_in_schema=False)


def _user(session: Session, principal: Principal) -> User:
    user = session.get(User, principal.user_id)
    assert user is not None  # the principal was resolved from this row in this request
    return user


def _page(request: Request, user: User, **extra: object) -> Response:
    ctx: dict[str, object] = {"totp_enabled": bool(user.totp_secret), "enrolment": None, "message": None,
                              "error": None}
    ctx.update(extra)
    return render(request, "account.html", ctx)


@router.get("/ui/account", response_class=HTMLResponse)
def account(request: Request, principal: Principal = Depends(current_principal),
            session: Session = Depends(get_session)) -> Response:
    return _page(request, _user(session, principal))


@router.post("/ui/account/totp/start", response_class=HTMLResponse)
def totp_start(request: Request, principal: Principal = Depends(current_principal),
               session: Session = Depends(get_session)) -> Response:
    user = _user(session, principal)
    secret, uri, ticket = auth.start_totp_enrolment(user, request.app.state.settings.secret_key)
    return _page(request, user, enrolment={"secret": secret, "uri": uri, "ticket": ticket})


@router.post("/ui/account/totp/confirm", response_class=HTMLResponse)
def totp_confirm(request: Request, ticket: str = Form(...), code: str = Form(...),
                 principal: Principal = Depends(current_principal), session: Session = Depends(get_session)
                 ) -> Response:
    user = _user(session, principal)
    if auth.confirm_totp_enrolment(session, user, ticket[:2000], code[:12], request.app.state.settings.secret_key):
        return _page(request, user, message="Two-factor sign-in is on.")
    return _page(request, user, error="Wrong code from the authenticator app.")


@router.post("/ui/account/password", response_class=HTMLResponse)
def password(request: Request, current: str = Form(...), new: str = Form(...),
             principal: Principal = Depends(current_principal), session: Session = Depends(get_session)) -> Response:
    user = _user(session, principal)
    try:
        changed = auth.change_password(session, user, current[:200], new[:200])
    except WeakPasswordError:
        return _page(request, user, error="The new password is too short.")
    if not changed:
        return _page(request, user, error="Wrong username or password.")
    return _page(request, user, message="Password changed.")
