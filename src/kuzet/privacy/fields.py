"""Field-level encryption of the most sensitive values (protected persons' addresses).

AES-256-GCM with a key derived by HKDF-SHA256 from ``settings.field_key``. Each value gets a fresh 96-bit
nonce; the field's name (and the row it belongs to) is bound as associated data, so a ciphertext copied into
another field or row does not decrypt. Stored form: ``v1:`` + URL-safe base64 of nonce + ciphertext + tag.
A database dump alone reveals nothing of these values; the key lives only in the settings.

This module never logs, caches or returns a decrypted value anywhere but to its caller, and never falls back
to storing clear text.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.settings import get_settings
from kuzet.store.models import ProtectedPersonRecord

PREFIX = "v1:"
_NONCE = 12


class FieldDecryptionError(ValueError):
    """A stored value that does not decrypt: wrong key, wrong field or row, or altered bytes."""


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    if not secret:
        raise ValueError("the field key is empty: set KUZET_FIELD_KEY")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kuzet/field-encryption",
                info=b"kuzet field key v1").derive(secret.encode())


def encrypt_field(plaintext: str, *, context: str, key: str | None = None) -> str:
    """Encrypt ``plaintext`` for the field named by ``context`` (e.g. ``protected_persons.address_enc#12``).

    >>> token = encrypt_field("Абай 1", context="t", key="k" * 32)
    >>> token.startswith("v1:") and "Абай" not in token
    True
    >>> decrypt_field(token, context="t", key="k" * 32)
    'Абай 1'
    """
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_key(key if key is not None else get_settings().field_key)).encrypt(
        nonce, plaintext.encode(), context.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt_field(token: str, *, context: str, key: str | None = None) -> str:
    """The clear text of a value written by :func:`encrypt_field` (an empty token is an empty value)."""
    if token == "":
        return ""
    if not token.startswith(PREFIX):
        raise FieldDecryptionError(f"{context}: not an encrypted value (expected the {PREFIX!r} prefix)")
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX):].encode("ascii"))
        clear = AESGCM(_key(key if key is not None else get_settings().field_key)).decrypt(
            raw[:_NONCE], raw[_NONCE:], context.encode())
    except (InvalidTag, ValueError) as exc:
        raise FieldDecryptionError(f"{context}: does not decrypt (wrong key, moved value or altered bytes)") \
            from exc
    return clear.decode()


def _address_context(row: ProtectedPersonRecord) -> str:
    return f"protected_persons.address_enc#{row.person_id}/{row.code}"


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
