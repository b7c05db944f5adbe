"""Working days of Kazakhstan: weekends, public holidays, carried-over days off, month and year ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuzet.casework.holidays import Transfer
from kuzet.casework.workdays import KAZAKHSTAN, HolidayCalendar, add_working_days, is_working_day, working_days_between


@pytest.mark.parametrize(("released", "deadline"), [
    (date(2026, 11, 2), date(2026, 11, 5)),    # Monday -> Thursday
    (date(2026, 11, 6), date(2026, 11, 11)),   # Friday -> Mon, Tue, Wed
    (date(2026, 11, 28), date(2026, 12, 2)),   # Saturday at the month's end -> Mon 30 Nov, Tue 1, Wed 2 Dec
    (date(2026, 12, 14), date(2026, 12, 18)),  # Independence Day (Wed 16 Dec) is skipped
    (date(2026, 12, 29), date(2027, 1, 5)),    # across the year: 1-2 Jan off, Sat 2 Jan carried to Mon 4 Jan
    (date(2026, 12, 31), date(2027, 1, 8)),    # 5, 6 Jan worked; Orthodox Christmas (Thu 7 Jan) is off
    (date(2027, 2, 26), date(2027, 3, 3)),     # Friday at February's end -> 1, 2, 3 March
    (date(2028, 2, 28), date(2028, 3, 2)),     # leap year: 29 Feb is a working Tuesday
    (date(2026, 3, 20), date(2026, 3, 30)),    # Nauryz 21-23 Mar on Sat-Mon carry to Tue 24 and Wed 25
    (date(2026, 5, 26), date(2026, 6, 1)),     # Kurban ait (Wed 27 May 2026) off: 28, 29 May, 1 June
])
def test_registration_deadline_is_three_working_days_after_release(released: date, deadline: date) -> None:
    assert add_working_days(released, 3) == deadline


def test_holiday_on_a_weekend_gives_the_next_working_day_off() -> None:
    assert date(2026, 8, 30).weekday() == 6  # Constitution Day on a Sunday
    assert not is_working_day(date(2026, 8, 31))
    assert not is_working_day(date(2026, 10, 26))  # Republic Day on Sunday 25 Oct 2026


def test_religious_holidays_do_not_carry_over() -> None:
    # Orthodox Christmas on Sunday 7 January 2029: Monday 8 January is worked.
    assert date(2029, 1, 7).weekday() == 6
    assert is_working_day(date(2029, 1, 8))


def test_republic_day_is_a_holiday_only_since_2022_and_17_december_only_until_2021() -> None:
    assert is_working_day(date(2021, 10, 25)) and not is_working_day(date(2022, 10, 25))
    assert not is_working_day(date(2021, 12, 17)) and is_working_day(date(2025, 12, 17))


def test_decree_transfers_move_a_day_off_and_a_worked_saturday() -> None:
    calendar = HolidayCalendar(transfers={2026: (Transfer(date(2026, 1, 5), date(2026, 1, 10)),)})
    assert not calendar.is_working_day(date(2026, 1, 5))
    assert calendar.is_working_day(date(2026, 1, 10))
    assert add_working_days(date(2026, 1, 2), 3, calendar) == date(2026, 1, 9)
    assert add_working_days(date(2026, 1, 2), 3) == date(2026, 1, 6 + 2)  # without the decree: 5, 6, 8 Jan


def test_counting_working_days_between_two_dates() -> None:
    assert working_days_between(date(2026, 12, 29), date(2027, 1, 5)) == 3
    assert working_days_between(date(2027, 1, 5), date(2026, 12, 29)) == 0
    with pytest.raises(ValueError, match="zero or more"):
        add_working_days(date(2026, 1, 1), -1)


@given(st.dates(min_value=date(2022, 1, 1), max_value=date(2028, 12, 31)), st.integers(min_value=1, max_value=15))
def test_the_deadline_is_a_working_day_with_exactly_n_working_days_up_to_it(start: date, n: int) -> None:
    deadline = add_working_days(start, n)
    assert KAZAKHSTAN.is_working_day(deadline)
    assert working_days_between(start, deadline) == n
    assert deadline - start <= timedelta(days=n * 3 + 7)
