"""FastAPI dependencies every router uses: the database session, the caller, and role rules.

Usage in a capability's router::

    from kuzet.web.deps import Principal, get_session, require_roles
    from kuzet.domain.enums import Role

    @router.get("/things")
    def list_things(principal: Principal = Depends(require_roles(Role.OFFICER, Role.SUPERVISOR)),
                    session: Session = Depends(get_session)) -> list[Thing]:
        return things_service.list_for(session, principal)

Every route must depend on :func:`current_principal` or a :func:`require_roles` rule, or be marked public
with ``openapi_extra={"x-kuzet-public": True}``; ``tests/web/test_route_rules.py`` fails the build otherwise.
Nothing here runs SQL of its own beyond resolving the caller's credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import HTTPException, Request, status
from sqlalchemy.orm import Session

from kuzet.auth.principal import Principal
from kuzet.auth.service import principal_for, resolve_api_token, resolve_ui_session
from kuzet.domain.enums import Role

__all__ = ["SESSION_COOKIE", "Principal", "current_principal", "get_session", "optional_principal",
           "require_roles"]

SESSION_COOKIE = "kuzet_session"
#: Attribute set on every dependency that is an authorisation rule (read by the route-rules test).
RULE_ATTRIBUTE = "__kuzet_rule__"


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request: committed when the handler succeeds, rolled back when it raises."""
    factory = request.app.state.sessions
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def bearer_token(request: Request) -> str | None:
    """The API token of an ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same_origin(request: Request) -> bool:
    """For a cookie-authenticated change: the browser's ``Origin`` (when sent) must be this site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def _resolve(request: Request, session: Session) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = bearer_token(request)
    user = None
    if token is not None:
        user = resolve_api_token(session, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            if request.method not in _SAFE_METHODS and not _same_origin(request):
                # A cross-site form or script riding on the session cookie (SameSite=Lax is the first line).
                raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
            user = resolve_ui_session(session, cookie)
    if user is None:
        return None
    principal = principal_for(user)
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> Principal:
    """The signed-in caller (API bearer token or UI session cookie), or HTTP 401."""
    factory = request.app.state.sessions
    with factory() as session:
        principal = _resolve(request, session)
        session.commit()  # keeps the token's last-used time
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign-in required",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


setattr(current_principal, RULE_ATTRIBUTE, "signed-in")


def optional_principal(request: Request) -> Principal | None:
    """The caller if signed in, else ``None`` (for public pages such as the login form). Not a rule."""
    factory = request.app.state.sessions
    with factory() as session:
        return _resolve(request, session)


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """A dependency that returns the caller when their role is one of ``roles``, else HTTP 403."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(Role(r) for r in roles)

    def rule(request: Request) -> Principal:
        principal = current_principal(request)
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.role.value} may not do this "
                                f"(needs {', '.join(sorted(r.value for r in allowed))})")
        return principal

    setattr(rule, RULE_ATTRIBUTE, "roles:" + ",".join(sorted(r.value for r in allowed)))
    rule.__name__ = "require_" + "_or_".join(sorted(r.value for r in allowed))
    return rule


def rule_of(dependency: Any) -> str | None:
    """The authorisation rule a dependency declares, if it is one."""
    value = getattr(dependency, RULE_ATTRIBUTE, None)
    return value if isinstance(value, str) else None
