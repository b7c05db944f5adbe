"""Rotating the field key: old values keep reading under a retired key until ``rotate-field-key`` reseals them."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from kuzet.audit import SYSTEM, verify
from kuzet.cli import app
from kuzet.privacy.fields import (
    FieldDecryptionError,
    FieldKeys,
    FieldRotationError,
    decrypt_field,
    encrypt_field,
    field_key_status,
    key_id,
    protected_address,
    rotate_field_key,
    set_protected_address,
)
from kuzet.settings import Settings, get_settings
from kuzet.store.models import AuditEntry, Device, DeviceType, ProtectedPersonRecord, User

from .factories import organisation, wearer
from .test_matching import FITTED

OLD = "old-field-key-0123456789abcdef"
NEW = "new-field-key-fedcba9876543210"
UNKNOWN = "lost-field-key-0000000000000000"
ADDRESS = "Алматы қ., Абай даңғылы 150, пәтер 12"
SECRETS = {f"K-{n}": f"{n}{n}" * 32 for n in range(1, 6)}
TOTP = "JBSWY3DPEHPK3PXP"
CLEAR_TOTP = "KRSXG5CTMVRXEZLU"  # stored before users.totp_secret was sealed
ALL_VALUES = 1 + len(SECRETS) + 2  # one address, five device keys, two TOTP seeds

UseKeys = Callable[..., None]


@pytest.fixture
def use_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[UseKeys]:
    """Switch the process's settings to a current key and some retired ones, as an operator would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUZET_CONFIG", raising=False)
    monkeypatch.setenv("KUZET_MODE", "dev")

    def use(current: str, *retired: str) -> None:
        monkeypatch.setenv("KUZET_FIELD_KEY", current)
        monkeypatch.setenv("KUZET_FIELD_KEYS_RETIRED", ",".join(retired))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_sessions: sessionmaker[Session]
        ) -> Iterator[Callable[..., tuple[int, str]]]:
    """``kuzet privacy rotate-field-key ARGS`` against the test database: (exit code, output in one line)."""
    from kuzet.store.context import engine_for

    monkeypatch.setenv("KUZET_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["privacy", "rotate-field-key", *args])
        return result.exit_code, " ".join(result.output.split())

    yield run
    engine_for.cache_clear()


def seal_v1(clear: str, context: str, key: str) -> str:
    """A value in the ``v1:`` form, written before values named their key (the format is pinned here)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kuzet/field-encryption",
                   info=b"kuzet field key v1").derive(key.encode())
    nonce = os.urandom(12)
    return "v1:" + base64.urlsafe_b64encode(nonce + AESGCM(derived).encrypt(nonce, clear.encode(), context.encode())
                                            ).decode()


def populate(sessions: sessionmaker[Session]) -> None:
    """An address, five device keys and two TOTP seeds sealed under the settings' current key, plus the
    older forms: one device key in the ``v1:`` form and one TOTP seed stored in clear."""
    with sessions.begin() as s:
        unit = organisation(s)
        w = wearer(s, unit, "S-1", FITTED)  # its device has no key: nothing to seal
        victim = ProtectedPersonRecord(person_id=w.person.id, code="V-1", device_serial="PP-1", distance_m=500.0)
        s.add(victim)
        s.flush()
        set_protected_address(s, SYSTEM, victim, ADDRESS)
        type_id = s.execute(select(DeviceType.id).order_by(DeviceType.id)).scalars().first()
        for serial, secret in SECRETS.items():
            s.add(Device(serial=serial, type_id=type_id, protocol="kuzet", status="in_stock", secret=secret))
        s.add(User(username="o.officer", password_hash="x", role="officer", totp_secret=TOTP))
        s.add(User(username="o.second", password_hash="x", role="officer"))
    current = get_settings().field_key
    with sessions.begin() as s:
        s.execute(text("UPDATE devices SET secret = :v WHERE serial = 'K-5'"),
                  {"v": seal_v1(SECRETS["K-5"], "devices.secret", current)})
        s.execute(text("UPDATE users SET totp_secret = :v WHERE username = 'o.second'"), {"v": CLEAR_TOTP})


def stored(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Every sealed value as the database holds it."""
    with sessions() as s:
        return {**{f"device {k}": v for k, v in s.execute(text("SELECT serial, secret FROM devices "
                                                               "WHERE secret <> ''")).all()},
                **{f"user {k}": v for k, v in s.execute(text("SELECT username, totp_secret FROM users")).all()},
                **{f"address {k}": v for k, v in s.execute(text("SELECT code, address_enc FROM protected_persons")
                                                           ).all()}}


def assert_everything_reads(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert dict(s.execute(select(Device.serial, Device.secret).where(Device.secret != "")).all()) == SECRETS
        assert dict(s.execute(select(User.username, User.totp_secret)).all()) == {"o.officer": TOTP,
                                                                                      "o.second": CLEAR_TOTP}
        victim = s.execute(select(ProtectedPersonRecord)).scalar_one()
        assert protected_address(s, SYSTEM, victim, purpose="victim safety check") == ADDRESS


def test_retired_keys_come_from_the_environment_comma_separated_or_as_a_json_list(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUZET_CONFIG", raising=False)
    monkeypatch.setenv("KUZET_FIELD_KEY", NEW)
    assert Settings().field_keys_retired == []
    monkeypatch.setenv("KUZET_FIELD_KEYS_RETIRED", f" {OLD} , {UNKNOWN},,")
    assert Settings().field_keys_retired == [OLD, UNKNOWN]
    monkeypatch.setenv("KUZET_FIELD_KEYS_RETIRED", f'["{OLD}", "{NEW}"]')
    assert Settings().field_keys_retired == [OLD]  # the current key is not a retired one


def test_a_value_names_its_key_by_an_id_that_does_not_reveal_the_key() -> None:
    token = encrypt_field(ADDRESS, context="f", key=NEW)
    version, kid, _sealed = token.split(":")
    assert (version, kid) == ("v2", key_id(NEW))
    assert len(kid) == 8 and kid != key_id(OLD)
    assert NEW not in token
    assert decrypt_field(token, context="f", keys=FieldKeys(OLD, (NEW,))) == ADDRESS
    with pytest.raises(FieldDecryptionError, match=f"sealed under key id {kid}, which is neither"):
        decrypt_field(token, context="f", keys=FieldKeys(OLD, (UNKNOWN,)))


def test_v1_values_read_under_the_current_or_a_retired_key() -> None:
    token = seal_v1(ADDRESS, "f", OLD)
    assert decrypt_field(token, context="f", key=OLD) == ADDRESS
    assert decrypt_field(token, context="f", keys=FieldKeys(NEW, (UNKNOWN, OLD))) == ADDRESS
    with pytest.raises(FieldDecryptionError, match="does not decrypt"):
        decrypt_field(token, context="f", keys=FieldKeys(NEW, (UNKNOWN,)))


def test_values_sealed_under_the_old_key_still_read_once_it_is_retired(sqlite_sessions: sessionmaker[Session],
                                                                       use_keys: UseKeys) -> None:
    use_keys(OLD)
    populate(sqlite_sessions)
    use_keys(NEW, OLD)
    assert_everything_reads(sqlite_sessions)
    # New values go under the new key, next to the old ones.
    with sqlite_sessions.begin() as s:
        s.execute(select(Device).where(Device.serial == "K-1")).scalar_one().secret = "ab" * 32
    assert stored(sqlite_sessions)["device K-1"].startswith(f"v2:{key_id(NEW)}:")
    use_keys(NEW)
    with pytest.raises(FieldDecryptionError, match=f"key id {key_id(OLD)}"):
        decrypt_field(stored(sqlite_sessions)["device K-2"], context="devices.secret")


def test_rotation_reseals_every_value_under_the_new_key_and_a_second_run_changes_nothing(
        sessions: sessionmaker[Session], use_keys: UseKeys) -> None:
    use_keys(OLD)
    populate(sessions)
    use_keys(NEW, OLD)
    seen: list[tuple[str, int]] = []
    report = rotate_field_key(sessions, batch=2, progress=lambda name, n: seen.append((name, n)))
    assert report.rewritten == ALL_VALUES and report.already == 0
    done = {c.name: dict(c.rewritten) for c in report.columns}
    old = key_id(OLD)
    assert done == {"protected_persons.address_enc": {old: 1},
                    "devices.secret": {old: 4, f"v1/{old}": 1},
                    "users.totp_secret": {old: 1, "clear": 1}}
    assert ("devices.secret", 2) in seen and ("devices.secret", 5) in seen  # one step per committed batch
    after = stored(sessions)
    assert all(v.startswith(f"v2:{key_id(NEW)}:") for v in after.values()), after

    use_keys(NEW)  # the old key can go
    assert_everything_reads(sessions)
    with sessions() as s:
        status = field_key_status(s)
    assert status.pending == 0 and status.undecryptable == 0
    assert {c.name: dict(c.sealed) for c in status.columns} == {
        "protected_persons.address_enc": {key_id(NEW): 1}, "devices.secret": {key_id(NEW): 5},
        "users.totp_secret": {key_id(NEW): 2}}

    again = rotate_field_key(sessions)
    assert again.rewritten == 0 and again.already == ALL_VALUES
    assert stored(sessions) == after
    with sessions() as s:
        runs = s.execute(select(AuditEntry).where(AuditEntry.object_type == "field_key").order_by(AuditEntry.id)
                         ).scalars().all()
        assert [(e.action, e.object_id, e.username) for e in runs] == [("rotate", key_id(NEW), "system")] * 2
        assert runs[0].detail["columns"]["devices.secret"]["rewritten"] == {old: 4, f"v1/{old}": 1}
        assert runs[0].detail["retired_key_ids"] == [old]
        assert verify(s).ok


def test_the_command_counts_values_per_key_rotates_and_says_when_nothing_is_left(
        sqlite_sessions: sessionmaker[Session], use_keys: UseKeys, cli: Callable[..., tuple[int, str]]) -> None:
    use_keys(OLD)
    populate(sqlite_sessions)
    use_keys(NEW, OLD)
    old, new = key_id(OLD), key_id(NEW)
    before = stored(sqlite_sessions)

    code, out = cli("--check")
    assert code == 0, out
    assert f"current key {new}; retired keys: {old}" in out
    assert (f"devices.secret: 5 values: 4 under {old} (retired); 1 under {old} (retired) in the v1 form" in out)
    assert f"users.totp_secret: 2 values: 1 under {old} (retired); 1 in clear" in out
    assert f"{ALL_VALUES} values to re-encrypt" in out
    assert stored(sqlite_sessions) == before  # --check writes nothing

    code, out = cli("--batch", "2")
    assert code == 0, out
    assert f"devices.secret: 5 re-encrypted (4 from {old}, 1 from v1/{old}), 0 already under {new}" in out
    assert f"re-encrypted {ALL_VALUES} values under key {new}" in out
    assert all(SECRETS[k] not in out for k in SECRETS) and TOTP not in out

    code, out = cli()
    assert code == 0, out
    assert f"nothing to re-encrypt: all {ALL_VALUES} sealed values are under key {new} already" in out

    use_keys(NEW)
    code, out = cli("--check")
    assert code == 0, out
    assert f"devices.secret: 5 values: 5 under {new} (current)" in out
    assert f"every sealed value is under key {new}: retired keys can be removed" in out


def test_a_value_under_no_known_key_stops_the_rotation_in_its_batch_and_names_the_row(
        sqlite_sessions: sessionmaker[Session], use_keys: UseKeys, cli: Callable[..., tuple[int, str]]) -> None:
    use_keys(OLD)
    populate(sqlite_sessions)
    lost = encrypt_field(SECRETS["K-4"], context="devices.secret", key=UNKNOWN)
    with sqlite_sessions.begin() as s:
        s.execute(text("UPDATE devices SET secret = :v WHERE serial = 'K-4'"), {"v": lost})
        row_id = s.execute(select(Device.id).where(Device.serial == "K-4")).scalar_one()
    use_keys(NEW, OLD)
    before = stored(sqlite_sessions)

    code, out = cli("--check")
    assert code == 2
    assert f"1 under no known key (row ids {row_id})" in out and "values decrypt under no known key" in out

    # Batches of two by row id: K-1 and K-2 go through, K-3 and K-4 fail together, K-5 is never reached.
    code, out = cli("--batch", "2")
    assert code == 2
    assert (f"devices.secret row {row_id}: does not decrypt: sealed under key id {key_id(UNKNOWN)}, which is "
            "neither KUZET_FIELD_KEY nor one of KUZET_FIELD_KEYS_RETIRED; nothing in its batch was written") in out
    assert lost not in out and SECRETS["K-4"] not in out
    after = stored(sqlite_sessions)
    assert after["device K-1"].startswith(f"v2:{key_id(NEW)}:") and after["device K-2"].startswith(f"v2:{key_id(NEW)}:")
    assert after["address V-1"].startswith(f"v2:{key_id(NEW)}:")  # a column before it is done
    for untouched in ("device K-3", "device K-4", "device K-5"):
        assert after[untouched] == before[untouched]
    with sqlite_sessions() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.object_type == "field_key")).scalar_one()
        assert entry.detail["stopped_at"] == {"table": "devices", "column": "secret", "row_id": row_id}

    with pytest.raises(FieldRotationError) as stopped:
        rotate_field_key(sqlite_sessions)
    assert (stopped.value.table, stopped.value.column, stopped.value.row_id) == ("devices", "secret", row_id)

    # Once the lost key is found and listed as retired, the rotation finishes where it stopped.
    use_keys(NEW, OLD, UNKNOWN)
    code, out = cli()
    assert code == 0, out
    assert "devices.secret: 3 re-encrypted" in out
    assert all(f"1 from {origin}" in out for origin in (key_id(OLD), key_id(UNKNOWN), f"v1/{key_id(OLD)}"))
    use_keys(NEW)
    assert_everything_reads(sqlite_sessions)
