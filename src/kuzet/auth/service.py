"""Sign-in, sessions, tokens and users: the one action layer used by the UI, the API and the CLI.

Never returns or logs a password, a token digest or a TOTP secret except to the user it belongs to at the
moment it is created.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import SYSTEM, Actor, record
from kuzet.domain.enums import Role
from kuzet.domain.schedules import zone
from kuzet.store.models import User

from .models import ApiToken, UiSession
from .passwords import hash_password, needs_rehash, verify_password
from .principal import Principal

#: Failed attempts (password or second factor) before the account is locked.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
UI_SESSION_LIFETIME = timedelta(hours=12)
API_TOKEN_LIFETIME = timedelta(days=90)
LOCALES = ("kk", "ru", "en")
_TOKEN_PREFIX = "kzt_"  # noqa: S105 - a visible marker at the start of tokens, not a secret


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    BAD_SECOND_FACTOR = "bad_second_factor"


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is LoginOutcome.OK


class UserError(ValueError):
    """A user could not be created or changed; the message names what was wrong."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def principal_for(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=Role(user.role), region_id=user.region_id,
                     unit_id=user.unit_id, partner_id=user.partner_id, locale=user.locale or "ru",
                     timezone=user.timezone or "Asia/Almaty")


def find_user(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def create_user(session: Session, username: str, password: str, role: Role | str, *,
                region_id: int | None = None, unit_id: int | None = None, partner_id: int | None = None,
                full_name: str = "", locale: str = "ru", timezone: str = "Asia/Almaty",
                actor: Actor = SYSTEM) -> User:
    """Create a user with an argon2 password hash. Scoped roles must name their region (and unit)."""
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r} ({', '.join(r.value for r in Role)})") from None
    if not username or len(username) > 64 or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise UserError(f"username {username!r} must be 1-64 letters, digits, '.', '-' or '_'")
    if find_user(session, username) is not None:
        raise UserError(f"username {username!r} is already taken")
    if role in (Role.OFFICER, Role.OPERATOR, Role.SUPERVISOR, Role.POLICE_LIAISON) and region_id is None:
        raise UserError(f"a {role.value} must belong to a region")
    if role is Role.OFFICER and unit_id is None:
        raise UserError("an officer must belong to a unit")
    if role is Role.PARTNER and partner_id is None:
        raise UserError("a partner user must name their partner organisation")
    if locale not in LOCALES:
        raise UserError(f"unknown locale {locale!r} ({', '.join(LOCALES)})")
    zone(timezone)
    user = User(username=username, full_name=full_name, role=role.value, region_id=region_id, unit_id=unit_id,
                partner_id=partner_id, password_hash=hash_password(password), locale=locale, timezone=timezone,
                failed_logins=0, active=True)
    session.add(user)
    session.flush()
    record(session, actor, "create", "user", user.id, detail={"username": username, "role": role.value})
    return user


def set_password(session: Session, user: User, password: str, *, actor: Actor = SYSTEM) -> None:
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    record(session, actor, "update", "user", user.id, detail={"field": "password"})


def set_locale(session: Session, user_id: int, locale: str) -> None:
    if locale not in LOCALES:
        raise UserError(f"unknown locale {locale!r} ({', '.join(LOCALES)})")
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale


def authenticate(session: Session, username: str, password: str, *, totp_code: str | None = None,
                 now: datetime | None = None) -> LoginResult:
    """Check a password (and the TOTP code when the user has enrolled one), counting failures.

    After :data:`MAX_FAILED_LOGINS` consecutive failures the account is locked for :data:`LOCKOUT`; while
    locked, even the right password is refused. The caller commits the session so the count is kept.
    """
    at = _now(now)
    user = find_user(session, username)
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)  # same work either way, so timing does not reveal names
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if user.locked_until is not None and user.locked_until > at:
        record(session, Actor(user.id, user.username, user.role), "login_refused", "user", user.id,
               detail={"reason": "locked"})
        return LoginResult(LoginOutcome.LOCKED, None, user.locked_until)
    if not verify_password(user.password_hash, password):
        return _fail(session, user, at, LoginOutcome.BAD_CREDENTIALS)
    if user.totp_secret:
        if not totp_code:
            return LoginResult(LoginOutcome.SECOND_FACTOR_REQUIRED)
        if not verify_totp(user.totp_secret, totp_code, now=at):
            return _fail(session, user, at, LoginOutcome.BAD_SECOND_FACTOR)
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record(session, Actor(user.id, user.username, user.role), "login", "user", user.id)
    return LoginResult(LoginOutcome.OK, user)


def _fail(session: Session, user: User, at: datetime, outcome: LoginOutcome) -> LoginResult:
    user.failed_logins = (user.failed_logins or 0) + 1
    actor = Actor(user.id, user.username, user.role)
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = at + LOCKOUT
        user.failed_logins = 0
        record(session, actor, "locked", "user", user.id, detail={"until": user.locked_until.isoformat()})
        return LoginResult(LoginOutcome.LOCKED, None, user.locked_until)
    record(session, actor, "login_failed", "user", user.id, detail={"reason": outcome.value})
    return LoginResult(outcome)


#: A real argon2 hash of a random string, verified against when the user does not exist.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$mIq8e6f8vmwUz4fEfsFeeA$jjLgEDrOs4UZ48fR0eVlFa+oj73V9lkMX8VOSruAcwU"


# -- second factor --------------------------------------------------------------------------------------
def enrol_totp(session: Session, user: User, *, actor: Actor = SYSTEM) -> str:
    """Give the user a new TOTP secret and return it (shown once, as text or a provisioning URI)."""
    secret = pyotp.random_base32()
    user.totp_secret = secret
    record(session, actor, "update", "user", user.id, detail={"field": "totp"})
    return secret


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Kuzet")


def verify_totp(secret: str, code: str, *, now: datetime | None = None) -> bool:
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return False
    return bool(pyotp.TOTP(secret).verify(code, for_time=_now(now), valid_window=1))


# -- UI sessions -------------------------------------------------------------------------------------------
def open_ui_session(session: Session, user: User, *, remote: str = "", now: datetime | None = None) -> str:
    """Start a browser session; the returned token goes into the (signed, HttpOnly) cookie."""
    at = _now(now)
    token = secrets.token_urlsafe(32)
    session.add(UiSession(user_id=user.id, token_hash=_digest(token), created_at=at, last_seen_at=at,
                          expires_at=at + UI_SESSION_LIFETIME, remote=remote[:64]))
    session.flush()
    return token


def resolve_ui_session(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    at = _now(now)
    row = session.execute(select(UiSession).where(UiSession.token_hash == _digest(token))).scalar_one_or_none()
    if row is None or row.ended_at is not None or row.expires_at <= at:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user


def end_ui_session(session: Session, token: str, *, now: datetime | None = None) -> None:
    row = session.execute(select(UiSession).where(UiSession.token_hash == _digest(token))).scalar_one_or_none()
    if row is not None and row.ended_at is None:
        row.ended_at = _now(now)


# -- API tokens ----------------------------------------------------------------------------------------------
def issue_api_token(session: Session, user: User, *, name: str = "", lifetime: timedelta = API_TOKEN_LIFETIME,
                    now: datetime | None = None) -> str:
    """Create a bearer token for the API. The token itself is returned once and never stored."""
    at = _now(now)
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name[:100], prefix=token[:12], token_hash=_digest(token),
                         created_at=at, expires_at=at + lifetime))
    session.flush()
    record(session, Actor(user.id, user.username, user.role), "create", "api_token", user.id,
           detail={"name": name[:100], "prefix": token[:12]})
    return token


def resolve_api_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    at = _now(now)
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= at):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or (user.locked_until is not None and user.locked_until > at):
        return None
    row.last_used_at = at
    return user


def revoke_api_token(session: Session, token: str, *, now: datetime | None = None) -> bool:
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = _now(now)
    return True


# -- demo -----------------------------------------------------------------------------------------------------
def seed_demo_users(session: Session, region_id: int, unit_id: int, *,
                    partner_id: int) -> list[tuple[str, str, Role]]:
    """Create one user per role for a demo region and return ``(username, password, role)`` for each.

    ``partner_id`` is the casework partner organisation (``casework_partners.id``) the ``partner`` user works
    for (``kuzet.simulator.demo.ensure_demo_partner`` makes one).
    Passwords are random per call (printed by ``kuzet demo``), so a demo database never ships a known login.
    Existing demo users are left alone and listed without a password ("(unchanged)").
    """
    wanted = [
        ("operator", Role.OPERATOR), ("officer", Role.OFFICER), ("supervisor", Role.SUPERVISOR),
        ("admin", Role.ADMINISTRATOR), ("auditor", Role.AUDITOR), ("partner", Role.PARTNER),
        ("analyst", Role.ANALYST), ("police", Role.POLICE_LIAISON),
    ]
    out: list[tuple[str, str, Role]] = []
    for username, role in wanted:
        if find_user(session, username) is not None:
            out.append((username, "(unchanged)", role))
            continue
        password = secrets.token_urlsafe(9)
        scoped = role not in (Role.ADMINISTRATOR, Role.AUDITOR, Role.ANALYST, Role.PARTNER)
        create_user(session, username, password, role, region_id=region_id if scoped else None,
                    unit_id=unit_id if role in (Role.OFFICER, Role.SUPERVISOR) else None,
                    partner_id=partner_id if role is Role.PARTNER else None,
                    full_name=username.capitalize())
        out.append((username, password, role))
    return out


def token_expiry(session: Session, token: str) -> datetime:
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(token))).scalar_one()
    return row.expires_at or (row.created_at + API_TOKEN_LIFETIME)


# -- self-service: second factor enrolment and password change ----------------------------------------------
_ENROL_SALT = "kuzet-totp-enrolment"
ENROLMENT_WINDOW = timedelta(minutes=10)


def start_totp_enrolment(user: User, signing_key: str) -> tuple[str, str, str]:
    """A new secret for the user to add to their authenticator, not yet active.

    Returns ``(secret, provisioning_uri, ticket)``; the signed ticket carries the secret to the confirmation
    step, so nothing is stored until the user proves their authenticator produces the right codes.
    """
    from itsdangerous import URLSafeTimedSerializer

    secret = pyotp.random_base32()
    ticket = URLSafeTimedSerializer(signing_key, salt=_ENROL_SALT).dumps({"u": user.id, "s": secret})
    return secret, totp_uri(user, secret), ticket


def confirm_totp_enrolment(session: Session, user: User, ticket: str, code: str, signing_key: str, *,
                           now: datetime | None = None) -> bool:
    """Activate the second factor when ``code`` matches the secret in ``ticket`` (issued for this user)."""
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    try:
        data = URLSafeTimedSerializer(signing_key, salt=_ENROL_SALT).loads(
            ticket, max_age=int(ENROLMENT_WINDOW.total_seconds()))
    except BadSignature:
        return False
    if not isinstance(data, dict) or data.get("u") != user.id or not isinstance(data.get("s"), str):
        return False
    if not verify_totp(data["s"], code, now=now):
        return False
    user.totp_secret = data["s"]
    record(session, Actor(user.id, user.username, user.role), "update", "user", user.id, detail={"field": "totp"})
    return True


def change_password(session: Session, user: User, current: str, new: str) -> bool:
    """Change the user's own password; ``False`` when the current one is wrong."""
    if not verify_password(user.password_hash, current):
        return False
    set_password(session, user, new, actor=Actor(user.id, user.username, user.role))
    return True
