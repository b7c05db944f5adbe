"""The FastAPI application factory: API v1, the officer UI, static files and error mapping.

Routers come from :data:`kuzet.web.registry.ROUTER_MODULES`. Policy errors raised by services are mapped
here, once: :class:`kuzet.access.AccessDenied` -> 403, :class:`kuzet.access.NotVisible` -> 404,
:class:`kuzet.domain.errors.DomainError` -> 422 naming the field. A browser that is not signed in is sent
to the login page instead of receiving a bare 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from kuzet import __version__
from kuzet.access import AccessDenied, NotVisible
from kuzet.domain.errors import DomainError
from kuzet.settings import Settings, get_settings
from kuzet.store.context import sessions_for

from .registry import include_routers

STATIC = Path(__file__).with_name("static")
#: How often the running application signs the head of the audit chain (see :mod:`kuzet.audit.anchor`).
ANCHOR_EVERY = timedelta(minutes=10)
log = logging.getLogger("kuzet.web")


def _anchor_if_moved(app: FastAPI) -> None:
    from kuzet.audit.anchor import anchor_if_moved

    with app.state.sessions() as session, session.begin():
        anchor_if_moved(session, app.state.settings.secret_key)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    async def anchoring() -> None:
        while True:
            await asyncio.sleep(ANCHOR_EVERY.total_seconds())
            try:
                await to_thread.run_sync(_anchor_if_moved, app)
            except Exception:  # a failed anchor is retried next time; the chain itself is unaffected
                log.exception("could not anchor the audit trail")

    task = asyncio.create_task(anchoring())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Kuzet", version=__version__, lifespan=_lifespan,
                  description="Electronic monitoring and probation platform: API v1. Authenticate with "
                              "`Authorization: Bearer <token>` (POST /api/v1/auth/token).")
    app.state.settings = settings
    app.state.sessions = sessions_for(settings.database_url)

    @app.get("/healthz", tags=["ops"], openapi_extra={"x-kuzet-public": True})
    def healthz() -> dict[str, Any]:
        """Liveness and database reachability."""
        try:
            with app.state.sessions() as session:
                session.execute(text("SELECT 1"))
            db = "ok"
        except Exception as exc:  # the check reports the failure instead of failing itself
            db = f"error: {type(exc).__name__}"
        return {"status": "ok" if db == "ok" else "degraded", "database": db, "version": __version__}

    @app.get("/", include_in_schema=False, openapi_extra={"x-kuzet-public": True})
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    def error_page(request: Request, status_code: int, detail: str) -> Response:
        from .rendering import render

        titles = {403: "You may not see this page.", 404: "Not found."}
        return render(request, "error.html", {"status": status_code, "detail": detail,
                                              "title": titles.get(status_code, "Error")}, status_code=status_code)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if exc.status_code in (403, 404) and _wants_html(request):
            return error_page(request, exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        if _wants_html(request):
            return error_page(request, 403, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(NotVisible)
    async def _not_visible(request: Request, exc: NotVisible) -> Response:
        if _wants_html(request):
            return error_page(request, 404, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=422)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    include_routers(app)
    return app
