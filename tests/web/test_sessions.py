"""A request's transaction is committed before its response leaves the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.settings import Settings
from kuzet.store.migrate import upgrade
from kuzet.store.models import Region
from kuzet.web.app import create_app
from kuzet.web.deps import get_session
from kuzet.web.registry import commit_before_response


def test_a_write_is_visible_to_others_when_its_response_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url))
    router = APIRouter()

    @router.post("/probe", openapi_extra={"x-kuzet-public": True})
    def probe(session: Session = Depends(get_session)) -> dict[str, str]:
        session.add(Region(code="PROBE", name="probe", timezone="Asia/Almaty"))
        return {"ok": "yes"}

    app.include_router(router)
    assert commit_before_response(app) >= 1
    seen: list[int] = []
    inner = app.build_middleware_stack()

    async def watching(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def spy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                with app.state.sessions() as other:
                    seen.append(other.execute(select(func.count()).select_from(Region)
                                              .where(Region.code == "PROBE")).scalar_one())
            await send(message)

        await inner(scope, receive, spy)

    app.middleware_stack = watching  # type: ignore[assignment]
    with TestClient(app) as client:
        assert client.post("/probe").status_code == 200
    assert seen == [1]
