"""Leasing: invoices reconciled against the days each device was really fitted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kuzet.devices.errors import LeaseError
from kuzet.devices.leasing import (
    Finding,
    InvoiceLineInput,
    create_contract,
    format_tenge,
    lease_devices,
    reconcile_invoice,
    record_invoice,
)
from kuzet.devices.lifecycle import remove_device, return_to_stock, send_to_repair
from kuzet.store.db import transaction

from .factories import OFFICER, fitted, organisation, person, stock_device

RATE = 350_000  # 3 500 tenge per device-day, in tiyn
# 09:00 in Almaty (UTC+5) on 1 March 2026
MARCH_1 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def _fleet(s: Session) -> None:
    """KZ-FIT fitted all March; KZ-SHELF in stock all March; KZ-HALF fitted 1-10 March then in repair."""
    region, u1, _ = organisation(s)
    a, b = person(s, u1, "S-1"), person(s, u1, "S-2")
    for serial in ("KZ-FIT", "KZ-SHELF", "KZ-HALF", "KZ-SPARE"):
        stock_device(s, serial, u1, at=MARCH_1 - timedelta(days=20))
    fitted(s, "KZ-FIT", a, MARCH_1 - timedelta(days=5))
    fitted(s, "KZ-HALF", b, MARCH_1)
    remove_device(s, OFFICER, "KZ-HALF", reason="strap fault", at=MARCH_1 + timedelta(days=9, hours=2))
    send_to_repair(s, OFFICER, "KZ-HALF", fault="strap clasp", at=MARCH_1 + timedelta(days=9, hours=3))
    create_contract(s, OFFICER, reference="L-2026-01", supplier="Tracking Services LLP", daily_rate_tiyn=RATE,
                    start_date=date(2026, 1, 1), region_id=region.id)
    lease_devices(s, OFFICER, "L-2026-01", ["KZ-FIT", "KZ-SHELF", "KZ-HALF"])


def test_the_reconciliation_report_catches_a_device_billed_while_in_stock(
        sessions: sessionmaker[Session]) -> None:
    now = datetime(2026, 4, 5, tzinfo=UTC)
    with transaction(sessions) as s:
        _fleet(s)
        invoice = record_invoice(s, OFFICER, contract="L-2026-01", number="INV-0317", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 31), lines=[
                                     InvoiceLineInput("KZ-FIT", 31, 31 * RATE),
                                     InvoiceLineInput("KZ-SHELF", 31, 31 * RATE),
                                     InvoiceLineInput("KZ-HALF", 31, 31 * RATE)])
        report = reconcile_invoice(s, OFFICER, invoice.id, now=now)
        lines = {line.device_serial: line for line in report.lines}

        assert lines["KZ-FIT"].findings == ()
        assert lines["KZ-FIT"].amount_due_tiyn == 31 * RATE

        shelf = lines["KZ-SHELF"]
        assert shelf.findings == (Finding.BILLED_WHILE_IN_STOCK,)
        assert shelf.days_fitted == 0
        assert shelf.unfitted_days == {"in_stock": 31}
        assert shelf.overbilled_tiyn == 31 * RATE

        half = lines["KZ-HALF"]
        assert half.days_fitted == 10  # fitted 1 March, removed 10 March at 11:00 local time
        assert half.unfitted_days == {"in_repair": 21}
        assert half.findings == (Finding.BILLED_WHILE_NOT_FITTED,)

        assert report.total_overbilled_tiyn == (31 + 21) * RATE
        assert report.total_due_tiyn == (31 + 10) * RATE
        assert report.disputed and invoice.status == "disputed"
        assert report.to_json()["lines"][1]["unfitted_dates"][0] == "2026-03-01"


def test_a_clean_invoice_is_reconciled_and_fitted_devices_not_billed_are_listed(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _fleet(s)
        invoice = record_invoice(s, OFFICER, contract="L-2026-01", number="INV-0318", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 10),
                                 lines=[InvoiceLineInput("KZ-HALF", 10, 10 * RATE)])
        report = reconcile_invoice(s, OFFICER, invoice.id, now=datetime(2026, 4, 1, tzinfo=UTC))
        assert not report.disputed and invoice.status == "reconciled"
        assert report.fitted_not_billed == {"KZ-FIT": 10}


def test_wrong_rates_duplicates_unknown_and_unleased_devices_are_named(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _fleet(s)
        invoice = record_invoice(s, OFFICER, contract="L-2026-01", number="INV-0319", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 5), lines=[
                                     InvoiceLineInput("KZ-FIT", 5, 5 * RATE + 100),
                                     InvoiceLineInput("KZ-FIT", 5, 5 * RATE),
                                     InvoiceLineInput("KZ-GHOST", 5, 5 * RATE),
                                     InvoiceLineInput("KZ-SPARE", 9, 9 * RATE)])
        report = reconcile_invoice(s, OFFICER, invoice.id, now=datetime(2026, 4, 1, tzinfo=UTC))
        found = [set(line.findings) for line in report.lines]
        assert found[0] == {Finding.RATE_MISMATCH, Finding.DUPLICATE_LINE}
        assert found[1] == {Finding.DUPLICATE_LINE}
        assert found[2] == {Finding.UNKNOWN_DEVICE}
        assert found[3] == {Finding.NOT_ON_CONTRACT, Finding.MORE_DAYS_THAN_PERIOD, Finding.BILLED_WHILE_IN_STOCK}
        assert report.lines[3].amount_due_tiyn == 0


def test_a_device_back_in_stock_after_removal_is_not_payable_for_those_days(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _fleet(s)
        remove_device(s, OFFICER, "KZ-FIT", reason="order ended", at=MARCH_1 + timedelta(days=14, hours=3))
        return_to_stock(s, OFFICER, "KZ-FIT", at=MARCH_1 + timedelta(days=15))
        invoice = record_invoice(s, OFFICER, contract="L-2026-01", number="INV-0320", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 31), lines=[InvoiceLineInput("KZ-FIT", 31, 31 * RATE)])
        line = reconcile_invoice(s, OFFICER, invoice.id, now=datetime(2026, 4, 1, tzinfo=UTC)).lines[0]
        assert line.days_fitted == 15
        assert line.unfitted_days == {"in_stock": 16}
        assert line.findings == (Finding.BILLED_WHILE_IN_STOCK,)


def test_contracts_and_invoices_refuse_nonsense(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _fleet(s)
        with pytest.raises(LeaseError, match="cost per device-day must be positive"):
            create_contract(s, OFFICER, reference="L-X", supplier="X", daily_rate_tiyn=0, start_date=date(2026, 1, 1))
        with pytest.raises(LeaseError, match="already recorded"):
            for _ in range(2):
                record_invoice(s, OFFICER, contract="L-2026-01", number="INV-1", period_start=date(2026, 3, 1),
                               period_end=date(2026, 3, 2), lines=[])
    assert format_tenge(123456789) == "1 234 567.89"


def test_days_outside_the_contract_term_are_not_payable(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _fleet(s)
        create_contract(s, OFFICER, reference="L-SHORT", supplier="Other LLP", daily_rate_tiyn=RATE,
                        start_date=date(2026, 3, 1), end_date=date(2026, 3, 15))
        lease_devices(s, OFFICER, "L-SHORT", ["KZ-FIT"])
        invoice = record_invoice(s, OFFICER, contract="L-SHORT", number="S-1", period_start=date(2026, 3, 1),
                                 period_end=date(2026, 3, 31), lines=[InvoiceLineInput("KZ-FIT", 31, 31 * RATE)])
        line = reconcile_invoice(s, OFFICER, invoice.id, now=datetime(2026, 4, 1, tzinfo=UTC)).lines[0]
        assert line.days_fitted == 31
        assert line.findings == (Finding.OUTSIDE_CONTRACT_PERIOD,)
        assert line.amount_due_tiyn == 15 * RATE and line.overbilled_tiyn == 16 * RATE
