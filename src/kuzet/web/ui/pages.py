"""Sign-in, sign-out, language choice and the home redirect of the officer UI."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kuzet import i18n
from kuzet.access import can_read_people
from kuzet.auth import service as auth
from kuzet.domain.enums import Role
from kuzet.web.deps import SESSION_COOKIE, Principal, current_principal, get_session, optional_principal
from kuzet.web.rendering import LOCALE_COOKIE, render

router = APIRouter(include_in_schema=False)
PUBLIC = {"x-kuzet-public": True}


def safe_next(value: str | None, default: str = "/ui/") -> str:
    """Only local paths: never redirect a user to another site after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


@router.get("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
def login_form(request: Request, next: str = "/ui/") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None, "need_totp": False,
                                          "username": ""})


@router.post("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
def login(request: Request, username: str = Form(""), password: str = Form(""), totp: str = Form(""),
          next: str = Form("/ui/"), session: Session = Depends(get_session)) -> Response:
    result = auth.authenticate(session, username, password, totp_code=totp or None)
    if not result.ok or result.user is None:
        session.commit()
        errors = {
            auth.LoginOutcome.BAD_CREDENTIALS: "Wrong username or password.",
            auth.LoginOutcome.LOCKED: "Too many failed attempts: the account is locked for a while.",
            auth.LoginOutcome.SECOND_FACTOR_REQUIRED: "Enter the code from your authenticator app.",
            auth.LoginOutcome.BAD_SECOND_FACTOR: "Wrong code from the authenticator app.",
        }
        need_totp = result.outcome in (auth.LoginOutcome.SECOND_FACTOR_REQUIRED,
                                       auth.LoginOutcome.BAD_SECOND_FACTOR)
        # The password is carried to the second step only inside this form, never stored.
        return render(request, "login.html", {"next": safe_next(next), "error": errors[result.outcome],
                                              "need_totp": need_totp, "username": username,
                                              "password": password if need_totp else ""},
                      status_code=200 if need_totp and result.outcome is auth.LoginOutcome.SECOND_FACTOR_REQUIRED
                      else 401)
    token = auth.open_ui_session(session, result.user, remote=request.client.host if request.client else "")
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = request.app.state.settings.mode != "dev"
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure,
                        max_age=int(auth.UI_SESSION_LIFETIME.total_seconds()))
    response.set_cookie(LOCALE_COOKIE, result.user.locale, samesite="lax", secure=secure)
    return response


@router.post("/ui/logout", dependencies=[Depends(current_principal)])
def logout(request: Request, session: Session = Depends(get_session)) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.end_ui_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/ui/locale", openapi_extra=PUBLIC)
def choose_locale(request: Request, locale: str = Form(...), next: str = Form("/ui/"),
                  session: Session = Depends(get_session)) -> Response:
    """Switch language: saved on the user when signed in, and in a cookie for the login page."""
    code = i18n.normalise(locale)
    principal = optional_principal(request)
    if principal is not None:
        auth.set_locale(session, principal.user_id, code)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LOCALE_COOKIE, code, samesite="lax", max_age=365 * 24 * 3600)
    return response


@router.get("/ui/", response_class=HTMLResponse)
def home(request: Request, principal: Principal = Depends(current_principal)) -> Response:
    """Send each role to its main page."""
    if can_read_people(principal):
        return RedirectResponse("/ui/map", status_code=303)
    if principal.role is Role.AUDITOR:
        return RedirectResponse("/ui/audit", status_code=303)
    return render(request, "home.html", {})
