"""Field-level encryption: a protected person's address never reaches the database in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import Actor
from kuzet.privacy.fields import (
    FieldDecryptionError,
    decrypt_field,
    encrypt_field,
    protected_address,
    set_protected_address,
)
from kuzet.store.models import AuditEntry, ProtectedPersonRecord

from .factories import organisation, wearer
from .test_matching import FITTED

KEY = "test-field-key-0123456789abcdef"
ADDRESS = "Алматы қ., Абай даңғылы 150, пәтер 12"
OFFICER = Actor(3, "o.officer", "officer")


def protected(session: Session) -> ProtectedPersonRecord:
    unit = organisation(session)
    w = wearer(session, unit, "S-1", FITTED)
    row = ProtectedPersonRecord(person_id=w.person.id, code="V-1", device_serial="PP-1", distance_m=500.0)
    session.add(row)
    session.flush()
    return row


def test_address_is_stored_encrypted_and_the_raw_database_does_not_contain_it(sqlite_sessions: sessionmaker[Session],
                                                                               sqlite_url: str) -> None:
    with sqlite_sessions.begin() as session:
        row = protected(session)
        set_protected_address(session, OFFICER, row, ADDRESS, key=KEY)
    sqlite_sessions.kw["bind"].dispose()
    raw = b"".join(p.read_bytes() for p in Path(sqlite_url.split("///", 1)[1]).parent.glob("kuzet.db*"))
    assert ADDRESS.encode() not in raw
    assert "Абай".encode() not in raw
    with sqlite_sessions() as session:
        row = session.execute(select(ProtectedPersonRecord)).scalar_one()
        assert row.address_enc.startswith("v2:")
        assert protected_address(session, OFFICER, row, purpose="victim safety check", key=KEY) == ADDRESS
        session.commit()
        reads = session.execute(select(AuditEntry).where(AuditEntry.object_type == "protected_person_address")
                                ).scalars().all()
        assert [(e.action, e.purpose) for e in reads] == [("update", "protected person's address set"),
                                                          ("read", "victim safety check")]


def test_stored_address_does_not_decrypt_with_another_key_or_in_another_row(db_url: str,
                                                                            sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        row = protected(session)
        other = ProtectedPersonRecord(person_id=row.person_id, code="V-2", device_serial="PP-2", distance_m=300.0)
        session.add(other)
        session.flush()
        set_protected_address(session, OFFICER, row, ADDRESS, key=KEY)
        with pytest.raises(FieldDecryptionError, match="does not decrypt"):
            protected_address(session, OFFICER, row, purpose="check", key="another-key-0123456789abcdef")
        # A ciphertext copied into another row is refused: the row is bound into the encryption.
        session.execute(update(ProtectedPersonRecord).where(ProtectedPersonRecord.id == other.id)
                        .values(address_enc=row.address_enc))
        session.refresh(other)
        with pytest.raises(FieldDecryptionError):
            protected_address(session, OFFICER, other, purpose="check", key=KEY)
        with pytest.raises(PermissionError, match="purpose"):
            protected_address(session, OFFICER, row, purpose=" ", key=KEY)


def test_each_encryption_is_different_and_tampering_shows() -> None:
    a = encrypt_field(ADDRESS, context="f", key=KEY)
    b = encrypt_field(ADDRESS, context="f", key=KEY)
    assert a != b
    assert decrypt_field(a, context="f", key=KEY) == decrypt_field(b, context="f", key=KEY) == ADDRESS
    flipped = a[:-6] + ("A" if a[-6] != "A" else "B") + a[-5:]
    with pytest.raises(FieldDecryptionError):
        decrypt_field(flipped, context="f", key=KEY)
    with pytest.raises(FieldDecryptionError, match="not an encrypted value"):
        decrypt_field(ADDRESS, context="f", key=KEY)
