"""Field-level encryption of the most sensitive values, and rotation of the key it uses.

AES-256-GCM with a key derived by HKDF-SHA256 from ``settings.field_key``. Each value gets a fresh 96-bit
nonce; the field's name (and the row it belongs to) is bound as associated data, so a ciphertext copied into
another field or row does not decrypt. A database dump alone reveals nothing of these values; the keys live
only in the settings.

Stored forms:

- ``v2:<key id>:`` + URL-safe base64 of nonce + ciphertext + tag. Every new value is written this way. The key
  id is 8 hex digits derived from the key by HKDF (:func:`key_id`), so it names the key without revealing it:
  decryption goes straight to the right key, and ``kuzet privacy rotate-field-key --check`` counts values per key.
- ``v1:`` + the same base64, without a key id: values written before keys could be rotated. They stay readable
  for good; decryption tries the current key, then each retired one.

Rotation: the new key becomes ``KUZET_FIELD_KEY``, the previous one moves to ``KUZET_FIELD_KEYS_RETIRED`` (still
accepted for reading), and :func:`rotate_field_key` re-encrypts every sealed value not yet under the current
key, one committed batch at a time. Once it has run, the retired key can be dropped.

This module never logs, caches or returns a decrypted value anywhere but to its caller, never names a value in
an error, and never falls back to storing clear text.
"""

from __future__ import annotations

import base64
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, Table, func, not_, select, type_coerce, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import SYSTEM, Actor, record
from kuzet.settings import get_settings
from kuzet.store.coltypes import SealedString
from kuzet.store.db import transaction
from kuzet.store.models import Base, ProtectedPersonRecord

V2 = "v2:"
V1 = "v1:"
#: The prefixes a sealed value starts with (a tuple, as ``str.startswith`` takes it).
PREFIX = (V2, V1)
_NONCE = 12
_SALT = b"kuzet/field-encryption"
_KEY_ID_BYTES = 4
_KEY_ID = re.compile(f"[0-9a-f]{{{2 * _KEY_ID_BYTES}}}")
ADDRESS_CONTEXT = "protected_persons.address_enc#{person_id}/{code}"


class FieldDecryptionError(ValueError):
    """A stored value that does not decrypt: unknown key, wrong field or row, or altered bytes."""


@lru_cache(maxsize=16)
def _key(secret: str) -> bytes:
    if not secret:
        raise ValueError("the field key is empty: set KUZET_FIELD_KEY")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"kuzet field key v1").derive(secret.encode())


@lru_cache(maxsize=16)
def key_id(secret: str) -> str:
    """The public name of a field key: 8 hex digits derived from it by HKDF, from which it cannot be recovered.

    >>> key_id("k" * 32) == key_id("k" * 32) != key_id("j" * 32)
    True
    >>> len(key_id("k" * 32))
    8
    """
    if not secret:
        raise ValueError("the field key is empty: set KUZET_FIELD_KEY")
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_ID_BYTES, salt=_SALT,
                info=b"kuzet field key id").derive(secret.encode()).hex()


@dataclass(frozen=True)
class FieldKeys:
    """The key new values are sealed under, and the retired keys still accepted for reading."""

    current: str = field(repr=False)
    retired: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for secret in (self.current, *self.retired):
            kid = key_id(secret)
            if seen.setdefault(kid, secret) != secret:
                # Two different keys with one id cannot both be told apart in v2 values: refuse, do not guess.
                raise ValueError(f"two field keys share the key id {kid}: replace one of them")

    @classmethod
    def from_settings(cls) -> FieldKeys:
        settings = get_settings()
        return cls(settings.field_key, tuple(settings.field_keys_retired))

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def retired_ids(self) -> tuple[str, ...]:
        return tuple(key_id(k) for k in self.retired if k != self.current)

    def by_id(self, kid: str) -> str | None:
        return next((k for k in (self.current, *self.retired) if key_id(k) == kid), None)

    def in_order(self) -> Iterator[str]:
        """The current key, then the retired ones: the order a ``v1:`` value is tried in."""
        yield self.current
        yield from (k for k in self.retired if k != self.current)


def _keys(key: str | None, keys: FieldKeys | None) -> FieldKeys:
    if keys is not None:
        return keys
    return FieldKeys(key) if key is not None else FieldKeys.from_settings()


def is_sealed(value: str) -> bool:
    """Whether a stored value is in one of the sealed forms (``v2:`` or ``v1:``)."""
    return value.startswith(PREFIX)


def encrypt_field(plaintext: str, *, context: str, key: str | None = None, keys: FieldKeys | None = None) -> str:
    """Encrypt ``plaintext`` for the field named by ``context`` (e.g. ``protected_persons.address_enc#12``).

    ``key`` (one key) or ``keys`` overrides the settings; the value is sealed under the current key.

    >>> token = encrypt_field("Абай 1", context="t", key="k" * 32)
    >>> token.startswith("v2:" + key_id("k" * 32) + ":") and "Абай" not in token
    True
    >>> decrypt_field(token, context="t", key="k" * 32)
    'Абай 1'
    """
    ring = _keys(key, keys)
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_key(ring.current)).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{V2}{ring.current_id}:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


@dataclass(frozen=True)
class _Opened:
    clear: str = field(repr=False)
    key_id: str
    legacy: bool  # a ``v1:`` value: sealed before values named their key


def _open(token: str, context: str, ring: FieldKeys) -> _Opened:
    if token.startswith(V2):
        kid, sep, body = token[len(V2):].partition(":")
        secret = ring.by_id(kid) if sep else None
        if secret is None:
            named = f"key id {kid}" if _KEY_ID.fullmatch(kid) else "a malformed key id"
            raise FieldDecryptionError(f"{context}: does not decrypt: sealed under {named}, which is neither "
                                       "KUZET_FIELD_KEY nor one of KUZET_FIELD_KEYS_RETIRED")
        candidates = [secret]
    elif token.startswith(V1):
        body, candidates = token[len(V1):], list(ring.in_order())
    else:
        raise FieldDecryptionError(f"{context}: not an encrypted value (expected the 'v2:' or 'v1:' prefix)")
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
    except ValueError as exc:
        raise FieldDecryptionError(f"{context}: does not decrypt (altered bytes)") from exc
    for secret in candidates:
        try:
            clear = AESGCM(_key(secret)).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode())
        except (InvalidTag, ValueError):
            continue
        return _Opened(clear.decode(), key_id(secret), legacy=token.startswith(V1))
    raise FieldDecryptionError(f"{context}: does not decrypt (wrong key, moved value or altered bytes)")


def decrypt_field(token: str, *, context: str, key: str | None = None, keys: FieldKeys | None = None) -> str:
    """The clear text of a value written by :func:`encrypt_field` (an empty token is an empty value).

    Without ``key`` or ``keys``, a ``v2:`` value is opened with the key its id names (current or retired), a
    ``v1:`` value with the current key, then each retired one.
    """
    if token == "":
        return ""
    return _open(token, context, _keys(key, keys)).clear


def _address_context(row: ProtectedPersonRecord) -> str:
    return ADDRESS_CONTEXT.format(person_id=row.person_id, code=row.code)


def set_protected_address(session: Session, actor: Actor, row: ProtectedPersonRecord, address: str,
                          *, key: str | None = None) -> None:
    """Store a protected person's address encrypted (``address_enc``), and audit the change."""
    row.address_enc = encrypt_field(address, context=_address_context(row), key=key) if address else ""
    session.flush()
    record(session, actor, "update", "protected_person_address", row.id, person_id=row.person_id,
           purpose="protected person's address set")


def protected_address(session: Session, actor: Actor, row: ProtectedPersonRecord, *, purpose: str,
                      key: str | None = None) -> str:
    """The clear address, for someone who needs it; every read is audited with its purpose."""
    if not purpose.strip():
        raise PermissionError("reading a protected person's address needs a purpose")
    clear = decrypt_field(row.address_enc, context=_address_context(row), key=key)
    record(session, actor, "read", "protected_person_address", row.id, person_id=row.person_id, purpose=purpose)
    return clear


# -- rotation ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SealedColumn:
    """A column holding sealed values, and how a row's context (the associated data) is built."""

    table: str
    column: str
    #: The context, or a template filled from ``row_fields`` of the row (the address is bound to its row).
    context: str
    row_fields: tuple[str, ...] = ()
    #: Whether a value stored in clear is legitimate (``SealedString`` reads one back as it is).
    clear_allowed: bool = False

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def context_of(self, row: Row[Any]) -> str:
        return self.context.format_map(row._mapping) if self.row_fields else self.context


def sealed_columns() -> tuple[SealedColumn, ...]:
    """Every column of the store holding sealed values: the addresses, then each ``SealedString`` column."""
    found = [SealedColumn("protected_persons", "address_enc", ADDRESS_CONTEXT, ("person_id", "code"))]
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, SealedString):
                found.append(SealedColumn(table.name, column.name, column.type.context, clear_allowed=True))
    return tuple(found)


@dataclass
class ColumnKeys:
    """How the values of one sealed column stand against the keys."""

    name: str
    #: Values per key id, in the ``v2:`` form.
    sealed: Counter[str] = field(default_factory=Counter)
    #: Values per key id (found by trying the keys), in the ``v1:`` form.
    legacy: Counter[str] = field(default_factory=Counter)
    #: Values stored in clear in a ``SealedString`` column (written before the column was sealed).
    clear: int = 0
    #: Row ids whose value decrypts under no known key.
    undecryptable: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.sealed.values()) + sum(self.legacy.values()) + self.clear + len(self.undecryptable)

    def under(self, kid: str) -> int:
        """Values already in the form rotation leaves alone: ``v2:`` under ``kid``."""
        return self.sealed[kid]


@dataclass(frozen=True)
class KeyStatus:
    """Where every sealed column stands: what ``rotate-field-key --check`` prints."""

    current_id: str
    retired_ids: tuple[str, ...]
    columns: tuple[ColumnKeys, ...]

    @property
    def undecryptable(self) -> int:
        return sum(len(c.undecryptable) for c in self.columns)

    @property
    def pending(self) -> int:
        """Readable values that a rotation would re-encrypt."""
        return sum(c.total - c.under(self.current_id) - len(c.undecryptable) for c in self.columns)


@dataclass
class ColumnRotation:
    """What a rotation did to one sealed column."""

    name: str
    #: Values already under the current key, left alone.
    already: int = 0
    #: Values re-encrypted, per the key id they were under (``v1/<id>`` for the ``v1:`` form, ``clear``).
    rewritten: Counter[str] = field(default_factory=Counter)
    #: Values that changed between reading and writing (another writer sealed them meanwhile): left as they are.
    changed_meanwhile: int = 0

    @property
    def rewritten_total(self) -> int:
        return sum(self.rewritten.values())


@dataclass
class RotationReport:
    """What a rotation did, column by column, and its audit entry."""

    current_id: str
    retired_ids: tuple[str, ...]
    columns: list[ColumnRotation] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def rewritten(self) -> int:
        return sum(c.rewritten_total for c in self.columns)

    @property
    def already(self) -> int:
        return sum(c.already for c in self.columns)

    def detail(self) -> dict[str, Any]:
        return {"key_id": self.current_id, "retired_key_ids": list(self.retired_ids),
                "columns": {c.name: {"already": c.already, "rewritten": dict(c.rewritten),
                                     "changed_meanwhile": c.changed_meanwhile} for c in self.columns}}


class FieldRotationError(FieldDecryptionError):
    """A sealed value that decrypts under no known key stopped the rotation; its batch was not written."""

    def __init__(self, column: SealedColumn, row_id: int, report: RotationReport, reason: str) -> None:
        self.table, self.column, self.row_id, self.report = column.table, column.column, row_id, report
        super().__init__(f"{column.name} row {row_id}: {reason}; nothing in its batch was written, "
                         f"{report.rewritten} values re-encrypted before it stay under key {report.current_id}")


def _raw(table: Table, column: SealedColumn) -> Any:
    # The stored text itself, whatever the column's type: SealedString would decrypt it on the way out.
    return type_coerce(table.c[column.column], String)


def _next_batch(session: Session, column: SealedColumn, *, after: int, size: int, skip_key: str | None = None
                ) -> list[Row[Any]]:
    """The next ``size`` rows with a stored value, by id, after row ``after`` (those under ``skip_key`` left out)."""
    table = Base.metadata.tables[column.table]
    raw = _raw(table, column)
    where = [table.c.id > after, raw.is_not(None), raw != ""]
    if skip_key is not None:
        where.append(not_(raw.startswith(f"{V2}{skip_key}:", autoescape=True)))
    return list(session.execute(
        select(table.c.id, raw.label("value"), *(table.c[f] for f in column.row_fields))
        .where(*where).order_by(table.c.id).limit(size)).all())


def field_key_status(session: Session, *, keys: FieldKeys | None = None, batch: int = 1000) -> KeyStatus:
    """How many values of each sealed column are under which key, and which rows decrypt under none (reads only)."""
    ring = keys or FieldKeys.from_settings()
    columns = []
    for column in sealed_columns():
        counts = ColumnKeys(column.name)
        after = 0
        while rows := _next_batch(session, column, after=after, size=batch):
            after = rows[-1].id
            for row in rows:
                if not is_sealed(row.value) and column.clear_allowed:
                    counts.clear += 1
                    continue
                try:
                    opened = _open(row.value, column.context_of(row), ring)
                except FieldDecryptionError:
                    counts.undecryptable.append(row.id)
                    continue
                (counts.legacy if opened.legacy else counts.sealed)[opened.key_id] += 1
        columns.append(counts)
    return KeyStatus(ring.current_id, ring.retired_ids, tuple(columns))


def rotate_field_key(sessions: sessionmaker[Session], actor: Actor = SYSTEM, *, keys: FieldKeys | None = None,
                     batch: int = 500, progress: Callable[[str, int], None] | None = None) -> RotationReport:
    """Re-encrypt every sealed value that is not under the current key, one committed transaction per batch.

    Resumable and idempotent: values already under the current key are not read again, so a run after a
    complete one changes nothing. A value that decrypts under no known key stops the run with
    :class:`FieldRotationError` (its batch rolled back, the batches before it kept). Every run, complete or
    stopped, writes one ``rotate`` / ``field_key`` audit entry with the counts.
    """
    ring = keys or FieldKeys.from_settings()
    report = RotationReport(ring.current_id, ring.retired_ids)
    try:
        for column in sealed_columns():
            done = ColumnRotation(column.name)
            report.columns.append(done)
            _rotate_column(sessions, column, ring, done, report, batch=batch, progress=progress)
    except FieldRotationError as exc:
        # A stopped run is audited too: the batches before the failing one are committed.
        _audit_rotation(sessions, actor, report,
                        stopped_at={"table": exc.table, "column": exc.column, "row_id": exc.row_id})
        raise
    _audit_rotation(sessions, actor, report)
    return report


def _audit_rotation(sessions: sessionmaker[Session], actor: Actor, report: RotationReport, **extra: Any) -> None:
    with transaction(sessions) as session:
        entry = record(session, actor, "rotate", "field_key", report.current_id, purpose="field key rotation",
                       detail={**report.detail(), **extra})
        session.flush()
        report.audit_id = entry.id


def _rotate_column(sessions: sessionmaker[Session], column: SealedColumn, ring: FieldKeys, done: ColumnRotation,
                   report: RotationReport, *, batch: int, progress: Callable[[str, int], None] | None) -> None:
    table = Base.metadata.tables[column.table]
    raw = _raw(table, column)
    with sessions() as session:
        done.already = session.execute(select(func.count()).select_from(table).where(
            raw.startswith(f"{V2}{ring.current_id}:", autoescape=True))).scalar_one()
    after = 0
    while True:
        with transaction(sessions) as session:
            rows = _next_batch(session, column, after=after, size=batch, skip_key=ring.current_id)
            if not rows:
                return
            # Every value of the batch is opened before anything is written; an error rolls the batch back.
            resealed: list[tuple[Row[Any], str, str]] = []
            for row in rows:
                context = column.context_of(row)
                if not is_sealed(row.value) and column.clear_allowed:
                    resealed.append((row, encrypt_field(row.value, context=context, keys=ring), "clear"))
                    continue
                try:
                    opened = _open(row.value, context, ring)
                except FieldDecryptionError as exc:
                    reason = str(exc).removeprefix(f"{context}: ")
                    raise FieldRotationError(column, row.id, report, reason) from None
                origin = f"v1/{opened.key_id}" if opened.legacy else opened.key_id
                resealed.append((row, encrypt_field(opened.clear, context=context, keys=ring), origin))
            for row, token, origin in resealed:
                # Compare and set: a value another writer changed since it was read is left to that writer.
                result = session.execute(update(table).where(table.c.id == row.id, raw == row.value)
                                         .values({column.column: type_coerce(token, String)}))
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    done.rewritten[origin] += 1
                else:
                    done.changed_meanwhile += 1
            after = rows[-1].id
        if progress is not None:
            progress(column.name, done.rewritten_total)
