"""``kuzet casework``: reminders, expiries and documents from the command line, refusals as exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from kuzet.store.db import transaction

from .factories import at, office, register

KUZET = [sys.executable, "-m", "kuzet.cli", "casework"]


def _kuzet(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUZET_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([*KUZET, *args], env=env, capture_output=True, text=True, timeout=120)


def test_reminders_expiries_and_the_programme_from_the_command_line(
        sqlite_url: str, sqlite_sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with transaction(sqlite_sessions) as s:
        where = office(s)
        late, _ = register(s, where, "CLI-1", released_on=date(2026, 12, 29), end=date(2027, 1, 31),
                           effective_from=at(2026, 12, 28, 19))
        person_id = late.id
    shown = _kuzet(sqlite_url, "reminders", "--today", "2027-01-12")
    assert shown.returncode == 0, shown.stderr
    assert "CLI-1" in shown.stdout and "start_search" in shown.stdout
    ended = _kuzet(sqlite_url, "end-expired", "--today", "2027-02-01")
    assert ended.returncode == 0 and "1 supervision(s) ended" in ended.stdout
    out = tmp_path / "programme.pdf"
    written = _kuzet(sqlite_url, "programme-pdf", str(person_id), str(out), "--lang", "ru")
    assert written.returncode == 0, written.stderr
    assert "ИНДИВИДУАЛЬНАЯ ПРОГРАММА" in PdfReader(out).pages[0].extract_text()
    refused = _kuzet(sqlite_url, "warning-pdf", "999", str(tmp_path / "none.pdf"))
    assert refused.returncode == 2 and "unknown written warning 999" in refused.stderr
