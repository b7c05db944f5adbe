"""The live event stream: positions of people in scope only, and it ends when the caller's token does."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from kuzet.auth.service import find_user, issue_api_token

from .world import ALMATY, World, add_fix


def test_the_stream_sends_new_positions_in_scope_and_ends_with_the_token(
        app: FastAPI, world: World, factory: sessionmaker[Session]) -> None:
    app.state.stream_interval_s = 0.05
    with factory() as s, s.begin():
        user = find_user(s, "officer_n1")
        assert user is not None
        token = issue_api_token(s, user, name="stream test")
    headers = {"Authorization": f"Bearer {token}"}
    client = TestClient(app)
    events: list[str] = []
    with client.stream("GET", "/api/v1/stream", headers=headers) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        add_fix(factory, "S-A", world.people["S-A"], 9001, 69.6, 42.3, datetime.now(UTC))  # not in scope
        add_fix(factory, "N-A", world.people["N-A"], 9002, ALMATY[0] + 0.01, ALMATY[1], datetime.now(UTC))
        for line in lines:
            events.append(line)
            if line.startswith("data:") and '"code":"N-A"' in line:
                break
        client.delete("/api/v1/auth/token", headers=headers)
        for line in lines:
            events.append(line)
            if line == "event: end":
                break
    assert "event: end" in events
    assert not any('"code":"S-A"' in e for e in events)
