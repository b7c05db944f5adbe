"""The FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from kuzet import __version__
from kuzet.settings import Settings, get_settings
from kuzet.store.context import sessions_for


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Kuzet", version=__version__,
                  description="Electronic monitoring and probation platform: API v1.")
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

    return app
