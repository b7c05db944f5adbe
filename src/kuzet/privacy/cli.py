"""``kuzet privacy ...``: purge, crime-scene match, subject-access export, holds, index backfill, key rotation.

Each command calls the same service functions as the API, as a named user whose role the service checks
(a crime-scene question still needs a police liaison, a case reference and a reason).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import SYSTEM, Actor
from kuzet.settings import get_settings
from kuzet.store.models import User

from .fields import FieldKeys, FieldRotationError, field_key_status, rotate_field_key

console = Console()
err = Console(stderr=True)
privacy = typer.Typer(no_args_is_help=True,
                      help="Crime-scene matching, retention, court holds, subject access, field-key rotation.")


def _sessions() -> sessionmaker[Session]:
    from kuzet.store.context import sessions_for

    return sessions_for(get_settings().database_url)


def _actor(username: str | None) -> Actor:
    if username is None:
        return SYSTEM
    with _sessions()() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None or not user.active:
            err.print(f"[red]error:[/] no active user {username!r}")
            raise typer.Exit(2)
        return Actor(user.id, user.username, user.role)


@privacy.command("purge")
def purge_command(as_user: str = typer.Option(None, "--as", help="Username running the purge (default: system)"),
                  ) -> None:
    """Delete what has expired under the retention periods, except what a court hold protects."""
    from kuzet.store.db import transaction

    from .retention import purge

    with transaction(_sessions()) as session:
        report = purge(session, actor=_actor(as_user))
    for c in report.categories:
        note = f" ({c.detail['expired_not_deleted']} expired, kept: hash-chained)" if "expired_not_deleted" in \
            c.detail else ""
        console.print(f"{c.category.value:>10}: cut-off {c.cutoff:%Y-%m-%d}, deleted {c.deleted}, "
                      f"held {c.held}{note}")
    console.print(f"purge run {report.run_id}")


@privacy.command("match")
def match_command(
    lat: float = typer.Option(..., help="Latitude of the scene"),
    lon: float = typer.Option(..., help="Longitude of the scene"),
    radius_m: float = typer.Option(500.0, "--radius-m", help="Radius in metres"),
    start: datetime = typer.Option(..., formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
                                   help="Window start, inclusive, with offset (e.g. 2026-05-04T20:00+05:00)"),
    end: datetime = typer.Option(..., formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
                                 help="Window end, exclusive, with offset"),
    case: str = typer.Option(..., "--case", help="Police case reference"),
    reason: str = typer.Option(..., help="Why the question is asked"),
    as_user: str = typer.Option(..., "--as", help="Username of the police liaison asking"),
    as_json: bool = typer.Option(False, "--json", help="Print the whole answer as JSON"),
) -> None:
    """Who under monitoring was within the radius of a place in a window (audited)."""
    from kuzet.domain.geometry import Circle
    from kuzet.store.db import transaction

    from .matching import CrimeSceneQuery, MatchQueryError, MatchRefused, match_crime_scene

    actor = _actor(as_user)
    try:
        query = CrimeSceneQuery(Circle(centre=(lon, lat), radius_m=radius_m), start, end, case, reason)
        with transaction(_sessions()) as session:
            result = match_crime_scene(session, actor, query)
    except (MatchRefused, MatchQueryError) as exc:
        err.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        console.print_json(orjson.dumps(result.to_json()).decode())
        return
    console.print(f"algorithm {result.algorithm_version}, audit entry {result.audit_id}")
    for label, people in (("within", result.within), ("possibly within", result.possibly_within)):
        for p in people:
            console.print(f"{label:>16}: {p.person_code}  closest {p.closest_m:.0f} m at "
                          f"{p.closest_time:%Y-%m-%d %H:%M:%S} UTC (±{p.closest_accuracy_m:.0f} m), "
                          f"{p.near_fixes} fixes near")
    console.print(f"       elsewhere: {len(result.elsewhere)} people; no data: {len(result.no_data)} people")


@privacy.command("export")
def export_command(
    person: str = typer.Argument(..., help="Person code"),
    directory: Path = typer.Option(None, "--out", help="Directory to write (default var/subject-access/CODE)"),
    as_user: str = typer.Option(None, "--as", help="Username making the export (default: system)"),
    purpose: str = typer.Option("data-subject access request", help="Why the export is made"),
) -> None:
    """Everything held about a person: exchange bundle, records.json and a PDF."""
    from kuzet.store.db import transaction

    from .subject_access import SubjectNotFound, export_subject

    out = directory or get_settings().var_dir / "subject-access" / person
    try:
        with transaction(_sessions()) as session:
            result = export_subject(session, _actor(as_user), person, out, purpose=purpose)
    except SubjectNotFound as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(f"wrote {result.reports} reports and {result.alerts} alerts to {result.directory} "
                  f"(bundle/, records.json, subject-access.pdf)")


@privacy.command("hold")
def hold_command(
    case: str = typer.Option(..., "--case", help="The court's case reference"),
    person: str = typer.Option(None, help="Person code (omit to hold everyone's data in the range)"),
    start: datetime = typer.Option(None, formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]),
    end: datetime = typer.Option(None, formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]),
    reason: str = typer.Option("", help="Why"),
    as_user: str = typer.Option(None, "--as", help="Administrator placing the hold"),
) -> None:
    """Place a court hold: the purge will keep the person's (or everyone's) data in the range."""
    from kuzet.store.db import transaction
    from kuzet.store.models import Person

    from .retention import HoldError, place_hold

    with transaction(_sessions()) as session:
        person_id = None
        if person:
            person_id = session.execute(select(Person.id).where(Person.code == person)).scalar_one_or_none()
            if person_id is None:
                err.print(f"[red]error:[/] no person {person!r}")
                raise typer.Exit(2)
        try:
            hold = place_hold(session, _actor(as_user), case_reference=case, reason=reason, person_id=person_id,
                              range_start=start, range_end=end)
        except HoldError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        console.print(f"court hold {hold.id} placed for case {hold.case_reference}")


@privacy.command("backfill-index")
def backfill_command(batch: int = typer.Option(20_000, help="Reports per batch"),
                     full: bool = typer.Option(False, help="Also walk reports older than the last indexed one"),
                     ) -> None:
    """Index stored positions that are not in the crime-scene index yet."""
    from kuzet.store.db import transaction

    from .index import backfill_index

    with transaction(_sessions()) as session:
        added = backfill_index(session, batch=batch, full=full,
                               progress=lambda n, last: console.print(f"  {n} indexed (report id {last})"))
    console.print(f"indexed {added} positions")


@privacy.command("rotate-field-key")
def rotate_field_key_command(
    check: bool = typer.Option(False, "--check",
                               help="Only count the values under each key id and find undecryptable ones"),
    batch: int = typer.Option(500, min=1, help="Rows re-encrypted per transaction"),
    as_user: str = typer.Option(None, "--as", help="Username running the rotation (default: system)"),
) -> None:
    """Re-encrypt every sealed value under KUZET_FIELD_KEY (old keys in KUZET_FIELD_KEYS_RETIRED); audited."""
    try:
        keys = FieldKeys.from_settings()
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    retired = ", ".join(keys.retired_ids) or "none"
    console.print(f"current key {keys.current_id}; retired keys: {retired}")
    if check:
        with _sessions()() as session:
            status = field_key_status(session, keys=keys, batch=batch)
        for c in status.columns:
            parts = [f"{n} under {kid}{_role(kid, keys)}" for kid, n in sorted(c.sealed.items())]
            parts += [f"{n} under {kid}{_role(kid, keys)} in the v1 form" for kid, n in sorted(c.legacy.items())]
            if c.clear:
                parts.append(f"{c.clear} in clear")
            if c.undecryptable:
                rows = ", ".join(map(str, c.undecryptable[:20])) + (", ..." if len(c.undecryptable) > 20 else "")
                parts.append(f"{len(c.undecryptable)} under no known key (row ids {rows})")
            console.print(f"{c.name}: {c.total} values" + (": " + "; ".join(parts) if parts else ""))
        if status.pending:
            console.print(f"{status.pending} values to re-encrypt: run without --check")
        if status.undecryptable:
            err.print(f"[red]error:[/] {status.undecryptable} values decrypt under no known key")
            raise typer.Exit(2)
        if not status.pending:
            console.print(f"every sealed value is under key {status.current_id}: retired keys can be removed")
        return
    actor = _actor(as_user)
    try:
        report = rotate_field_key(_sessions(), actor, keys=keys, batch=batch,
                                  progress=lambda name, n: console.print(f"  {name}: {n} re-encrypted"))
    except FieldRotationError as exc:
        err.print(f"[red]error:[/] {exc}")
        err.print(f"audit entry {exc.report.audit_id}. Add the key it was sealed under to KUZET_FIELD_KEYS_RETIRED, "
                  "or clear the value, then run again: values already re-encrypted are not read again.")
        raise typer.Exit(2) from None
    for r in report.columns:
        origins = ", ".join(f"{n} from {origin}" for origin, n in sorted(r.rewritten.items()))
        meanwhile = f", {r.changed_meanwhile} changed meanwhile (left alone)" if r.changed_meanwhile else ""
        console.print(f"{r.name}: {r.rewritten_total} re-encrypted" + (f" ({origins})" if origins else "")
                      + f", {r.already} already under {report.current_id}{meanwhile}")
    if report.rewritten:
        console.print(f"re-encrypted {report.rewritten} values under key {report.current_id}; "
                      f"audit entry {report.audit_id}")
    else:
        console.print(f"nothing to re-encrypt: all {report.already} sealed values are under key "
                      f"{report.current_id} already; audit entry {report.audit_id}")


def _role(kid: str, keys: FieldKeys) -> str:
    return " (current)" if kid == keys.current_id else " (retired)"


def register(app: typer.Typer) -> None:
    app.add_typer(privacy, name="privacy")
