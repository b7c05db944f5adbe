"""``kuzet devices``: the same services from the command line, refusals as exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from kuzet.devices.leasing import create_contract
from kuzet.store.db import transaction

from .factories import OFFICER, organisation

KUZET = [sys.executable, "-m", "kuzet.cli"]


def _kuzet(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUZET_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([*KUZET, "devices", *args], env=env, capture_output=True, text=True, timeout=120)


def test_stock_keeping_and_an_invoice_from_the_command_line(sqlite_url: str,
                                                            sqlite_sessions: sessionmaker[Session],
                                                            tmp_path: Path) -> None:
    with transaction(sqlite_sessions) as s:
        organisation(s)
        create_contract(s, OFFICER, reference="L-1", supplier="Supplier", daily_rate_tiyn=100_000,
                        start_date=date(2026, 1, 1))
    assert _kuzet(sqlite_url, "register", "KZ-1", "--type", "gps_bracelet", "--unit", "ALA-01").returncode == 0
    refused = _kuzet(sqlite_url, "step", "KZ-1", "remove", "--text", "no reason")
    assert refused.returncode == 2 and "cannot remove device KZ-1: it is in stock" in refused.stderr
    lines = tmp_path / "lines.csv"
    lines.write_text("device,days_billed,amount_tiyn\nKZ-1,1,100000\n", encoding="utf-8")
    today = datetime.now(ZoneInfo("Asia/Almaty")).date().isoformat()
    done = _kuzet(sqlite_url, "invoice", "L-1", "INV-9", today, today, str(lines))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lines"][0]["findings"] == ["not_on_contract", "billed_while_in_stock"]
    assert report["total_due_tiyn"] == 0
    assert report["lines"][0]["unfitted_days"] == {"in_stock": 1}
