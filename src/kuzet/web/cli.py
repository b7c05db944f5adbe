"""``kuzet user ...`` and ``kuzet audit ...``: user administration and audit-trail verification.

The commands call the same service functions as the web application; they never print a password hash,
a token digest or a stored TOTP secret (only a new secret or token at the moment it is created).
"""

from __future__ import annotations

import secrets

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.settings import get_settings

console = Console()
err = Console(stderr=True)


def _sessions() -> sessionmaker[Session]:
    from kuzet.store.context import sessions_for

    return sessions_for(get_settings().database_url)


def register(app: typer.Typer) -> None:
    user_app = typer.Typer(no_args_is_help=True, help="Users: add, tokens, second factor, unlock, demo users.")
    audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit trail.")
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")

    @user_app.command("add")
    def user_add(
        username: str = typer.Argument(...),
        role: str = typer.Option(..., help="operator, officer, supervisor, administrator, auditor, partner, "
                                            "analyst or police_liaison"),
        region: str = typer.Option(None, help="Region code"),
        unit: str = typer.Option(None, help="Unit code"),
        partner: int = typer.Option(None, help="Partner organisation id (partner users)"),
        full_name: str = typer.Option("", help="Full name"),
        locale: str = typer.Option("ru", help="kk, ru or en"),
        password: str = typer.Option(None, help="Password (a random one is generated and printed if omitted)"),
    ) -> None:
        """Create a user."""
        from kuzet.auth.passwords import WeakPasswordError
        from kuzet.auth.service import UserError, create_user
        from kuzet.store.db import transaction
        from kuzet.store.models import Region, Unit

        generated = password is None
        pw = password or secrets.token_urlsafe(12)
        try:
            with transaction(_sessions()) as session:
                region_id = unit_id = None
                if region:
                    r = session.execute(select(Region).where(Region.code == region)).scalar_one_or_none()
                    if r is None:
                        raise UserError(f"unknown region {region!r}")
                    region_id = r.id
                if unit:
                    u = session.execute(select(Unit).where(Unit.code == unit)).scalar_one_or_none()
                    if u is None:
                        raise UserError(f"unknown unit {unit!r}")
                    unit_id = u.id
                    region_id = region_id or u.region_id
                create_user(session, username, pw, role, region_id=region_id, unit_id=unit_id,
                            partner_id=partner, full_name=full_name, locale=locale)
        except (UserError, WeakPasswordError, ValueError) as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        console.print(f"created {username} ({role})" + (f"; password: {pw}" if generated else ""))

    @user_app.command("token")
    def user_token(username: str = typer.Argument(...), name: str = typer.Option("cli", help="Token label")) -> None:
        """Issue an API bearer token for a user (printed once)."""
        from kuzet.auth.service import find_user, issue_api_token
        from kuzet.store.db import transaction

        with transaction(_sessions()) as session:
            user = find_user(session, username)
            if user is None:
                err.print(f"[red]error:[/] unknown user {username!r}")
                raise typer.Exit(2)
            token = issue_api_token(session, user, name=name)
        console.print(token)

    @user_app.command("totp")
    def user_totp(username: str = typer.Argument(...)) -> None:
        """Enrol a user in TOTP two-factor sign-in; prints the secret and the provisioning URI once."""
        from kuzet.auth.service import enrol_totp, find_user, totp_uri
        from kuzet.store.db import transaction

        with transaction(_sessions()) as session:
            user = find_user(session, username)
            if user is None:
                err.print(f"[red]error:[/] unknown user {username!r}")
                raise typer.Exit(2)
            secret = enrol_totp(session, user)
            uri = totp_uri(user, secret)
        console.print(f"secret: {secret}\nuri: {uri}")

    @user_app.command("unlock")
    def user_unlock(username: str = typer.Argument(...)) -> None:
        """Lift a lockout after repeated failed sign-ins."""
        from kuzet.audit import SYSTEM, record
        from kuzet.auth.service import find_user
        from kuzet.store.db import transaction

        with transaction(_sessions()) as session:
            user = find_user(session, username)
            if user is None:
                err.print(f"[red]error:[/] unknown user {username!r}")
                raise typer.Exit(2)
            user.locked_until = None
            user.failed_logins = 0
            record(session, SYSTEM, "unlock", "user", user.id)
        console.print(f"unlocked {username}")

    @user_app.command("demo")
    def user_demo(region: str = typer.Option("DEMO", help="Region code (created if missing)")) -> None:
        """Create one demo user per role in a region (the partner user works for the region's demo NGO) and
        print their logins."""
        from kuzet.auth.service import seed_demo_users
        from kuzet.exchange.store_io import ensure_region
        from kuzet.simulator.demo import ensure_demo_partner
        from kuzet.store.db import transaction

        with transaction(_sessions()) as session:
            r, u = ensure_region(session, region, get_settings().default_timezone)
            logins = seed_demo_users(session, r.id, u.id, partner_id=ensure_demo_partner(session, r.id))
        for username, password, role in logins:
            console.print(f"{role.value:15} {username:12} {password}")

    @audit_app.command("verify")
    def audit_verify(anchor: bool = typer.Option(False, help="Sign the head after a clean check")) -> None:
        """Check the hash chain and its signed anchors; exit 1 on any alteration or deletion."""
        from kuzet.audit.anchor import verify_trail, write_anchor
        from kuzet.store.db import transaction

        key = get_settings().secret_key
        with transaction(_sessions()) as session:
            report = verify_trail(session, key)
            if report.ok and anchor:
                write_anchor(session, key)
        if not report.ok:
            for problem in report.problems:
                err.print(f"[red]TAMPERED:[/] {problem}")
            raise typer.Exit(1)
        console.print(f"[green]audit trail intact[/]: {report.entries} entries, {report.anchors} anchors")

    @audit_app.command("anchor")
    def audit_anchor() -> None:
        """Sign the current head of the chain, so that deleting the newest rows becomes detectable."""
        from kuzet.audit.anchor import write_anchor
        from kuzet.store.db import transaction

        with transaction(_sessions()) as session:
            a = write_anchor(session, get_settings().secret_key)
        console.print("empty trail: nothing to anchor" if a is None
                      else f"anchored entry {a.last_entry_id} ({a.entries} entries)")
