"""Passwords (argon2), lockout after repeated failures, TOTP second factor, API tokens and their revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from kuzet.auth.passwords import WeakPasswordError, hash_password
from kuzet.auth.service import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    LoginOutcome,
    authenticate,
    create_user,
    enrol_totp,
    find_user,
    issue_api_token,
    resolve_api_token,
    seed_demo_users,
)
from kuzet.domain.enums import Role
from kuzet.exchange.store_io import ensure_region
from kuzet.settings import Settings
from kuzet.simulator.demo import ensure_demo_partner
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.web.app import create_app

PW = "a long enough password"


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    upgrade(url)
    f = session_factory(make_engine(url))
    with f() as s, s.begin():
        region, unit = ensure_region(s, "ALM", "Asia/Almaty")
        create_user(s, "ofc", PW, Role.OFFICER, region_id=region.id, unit_id=unit.id)
    return f


def test_passwords_are_stored_as_argon2_hashes(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        user = find_user(s, "ofc")
        assert user is not None and user.password_hash.startswith("$argon2id$") and PW not in user.password_hash
    with pytest.raises(WeakPasswordError):
        hash_password("short")


def test_the_account_locks_after_repeated_failures_and_refuses_even_the_right_password(
        factory: sessionmaker[Session]) -> None:
    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with factory() as s, s.begin():
        outcomes = [authenticate(s, "ofc", "wrong", now=t).outcome for _ in range(MAX_FAILED_LOGINS)]
        assert outcomes[:-1] == [LoginOutcome.BAD_CREDENTIALS] * (MAX_FAILED_LOGINS - 1)
        assert outcomes[-1] is LoginOutcome.LOCKED
        assert authenticate(s, "ofc", PW, now=t + timedelta(minutes=1)).outcome is LoginOutcome.LOCKED
        assert authenticate(s, "ofc", PW, now=t + LOCKOUT + timedelta(seconds=1)).ok


def test_an_unknown_user_looks_like_a_wrong_password(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        assert authenticate(s, "nobody", PW).outcome is LoginOutcome.BAD_CREDENTIALS


def test_with_totp_enrolled_the_password_alone_is_not_enough(factory: sessionmaker[Session]) -> None:
    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with factory() as s, s.begin():
        user = find_user(s, "ofc")
        assert user is not None
        secret = enrol_totp(s, user)
        assert authenticate(s, "ofc", PW, now=t).outcome is LoginOutcome.SECOND_FACTOR_REQUIRED
        assert authenticate(s, "ofc", PW, totp_code="000000" if pyotp.TOTP(secret).at(t) != "000000"
                            else "111111", now=t).outcome is LoginOutcome.BAD_SECOND_FACTOR
        assert authenticate(s, "ofc", PW, totp_code=pyotp.TOTP(secret).at(t), now=t).ok


def test_api_tokens_expire_and_are_stored_only_as_digests(factory: sessionmaker[Session]) -> None:
    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with factory() as s, s.begin():
        user = find_user(s, "ofc")
        assert user is not None
        token = issue_api_token(s, user, lifetime=timedelta(hours=1), now=t)
        assert resolve_api_token(s, token, now=t + timedelta(minutes=59)) is not None
        assert resolve_api_token(s, token, now=t + timedelta(hours=2)) is None
        from kuzet.auth.models import ApiToken

        assert all(token not in (row.token_hash, row.prefix) for row in s.query(ApiToken))


def test_sign_in_over_the_api_with_lockout_and_revocation(factory: sessionmaker[Session], tmp_path: Path) -> None:
    url = str(factory.kw["bind"].url)
    with TestClient(create_app(Settings(database_url=url))) as c:
        r = c.post("/api/v1/auth/token", json={"username": "ofc", "password": PW})
        assert r.status_code == 200
        token = r.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/v1/me", headers=auth).json()["role"] == "officer"
        assert c.delete("/api/v1/auth/token", headers=auth).status_code == 204
        assert c.get("/api/v1/me", headers=auth).status_code == 401
        codes = [c.post("/api/v1/auth/token", json={"username": "ofc", "password": "nope"}).status_code
                 for _ in range(MAX_FAILED_LOGINS)]
        assert codes == [401] * (MAX_FAILED_LOGINS - 1) + [423]
        assert c.post("/api/v1/auth/token", json={"username": "ofc", "password": PW}).status_code == 423


def test_demo_users_cover_every_role_with_distinct_random_passwords(factory: sessionmaker[Session]) -> None:
    with factory() as s, s.begin():
        region, unit = ensure_region(s, "ALM", "Asia/Almaty")
        partner_id = ensure_demo_partner(s, region.id)
        logins = seed_demo_users(s, region.id, unit.id, partner_id=partner_id)
        again = seed_demo_users(s, region.id, unit.id, partner_id=ensure_demo_partner(s, region.id))
    assert {role for _, _, role in logins} == set(Role)
    assert len({pw for _, pw, _ in logins}) == len(logins)
    assert all(pw == "(unchanged)" for _, pw, _ in again)
    with factory() as s:
        for username, password, _ in logins:
            assert authenticate(s, username, password).ok
        assert find_user(s, "partner").partner_id == partner_id  # type: ignore[union-attr]
