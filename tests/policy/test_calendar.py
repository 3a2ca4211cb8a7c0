"""Deadlines on the working calendar, against the real chinesecalendar data for 2025."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from models.policy import CalendarPolicy, Limit, LimitUnit, OfficeHours
from policy import load_policy
from policy.calendar import WorkingCalendar
from rules.workdays import CaseCalendar

SH = ZoneInfo("Asia/Shanghai")
OFFICE = OfficeHours(periods=((time(9), time(12)), (time(13, 30), time(17, 30))))
CAL = WorkingCalendar(load_policy().calendar)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def lim(amount: float, unit: str) -> Limit:
    return Limit(amount=amount, unit=LimitUnit(unit))


def calendar(**overrides: object) -> WorkingCalendar:
    return WorkingCalendar(CalendarPolicy.model_validate({"office_hours": OFFICE, **overrides}))


def test_shipped_calendar_has_the_office_hours() -> None:
    assert CAL.policy.office_hours == OFFICE
    assert CAL.policy.working_days


def test_national_day_and_make_up_days() -> None:
    assert CAL.is_workday(date(2025, 9, 28))  # Sunday, 调休 for National Day
    assert CAL.is_workday(date(2025, 10, 11))  # Saturday, 调休
    assert not CAL.is_workday(date(2025, 10, 1))
    assert not CAL.is_workday(date(2025, 10, 8))
    assert not CAL.is_workday(date(2025, 10, 12))
    # Oct 9, 10, 11 (Sat, make-up), 13, 14, 15, 16
    due = CAL.add(local(2025, 9, 30, 10), lim(7, "working_days"))
    assert due == local(2025, 10, 16, 10)
    assert due.tzinfo is UTC


def test_working_days_from_a_day_off_start_at_the_next_working_day() -> None:
    # snapped to Oct 9 00:00, then one working day
    assert CAL.add(local(2025, 10, 3, 15), lim(1, "working_days")) == local(2025, 10, 10)
    assert CAL.add(local(2025, 9, 12, 10), lim(1, "working_days")) == local(2025, 9, 15, 10)


def test_fractional_working_days_count_only_working_time() -> None:
    assert CAL.add(local(2025, 9, 15, 10), lim(0.5, "working_days")) == local(2025, 9, 15, 22)
    # Friday 18:00 has 6 h of the day left; the other 6 h fall on Monday
    assert CAL.add(local(2025, 9, 12, 18), lim(0.5, "working_days")) == local(2025, 9, 15, 6)


def test_working_hours_cross_the_weekend() -> None:
    # Friday 16:00-17:30 is 1.5 h; Monday 09:00 + 2.5 h = 11:30
    assert CAL.add(local(2025, 9, 12, 16), lim(4, "working_hours")) == local(2025, 9, 15, 11, 30)
    # before National Day's make-up Saturday, the Saturday is the next working day
    assert CAL.add(local(2025, 10, 10, 16), lim(4, "working_hours")) == local(2025, 10, 11, 11, 30)


def test_working_hours_outside_office_hours_and_at_closing() -> None:
    assert CAL.add(local(2025, 9, 15, 7), lim(1, "working_hours")) == local(2025, 9, 15, 10)
    assert CAL.add(local(2025, 9, 15, 12, 30), lim(1, "working_hours")) == local(2025, 9, 15, 14, 30)
    assert CAL.add(local(2025, 9, 15, 11), lim(2, "working_hours")) == local(2025, 9, 15, 14, 30)
    assert CAL.add(local(2025, 9, 15, 9), lim(3, "working_hours")) == local(2025, 9, 15, 12)
    assert CAL.add(local(2025, 9, 15, 20), lim(7, "working_hours")) == local(2025, 9, 16, 17, 30)


def test_natural_units_are_plain_durations() -> None:
    start = datetime(2025, 9, 30, 23, 50, tzinfo=UTC)
    assert CAL.add(start, lim(30, "minutes")) == start + timedelta(minutes=30)
    assert CAL.add(start, lim(2, "hours")) == start + timedelta(hours=2)
    assert CAL.add(start, lim(3, "days")) == start + timedelta(days=3)
    assert CAL.add(local(2025, 10, 1, 8), lim(1.5, "hours")).tzinfo is UTC


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(datetime(2025, 9, 30, 10), lim(1, "hours"))


def test_overrides_win_over_the_package() -> None:
    cal = calendar(holidays=[date(2025, 9, 30)], workdays=[date(2025, 10, 4)])
    assert not cal.is_workday(date(2025, 9, 30))
    assert cal.is_workday(date(2025, 10, 4))
    assert cal.add(local(2025, 9, 29, 10), lim(1, "working_days")) == local(2025, 10, 4, 10)


def test_uncovered_year_falls_back_to_weekends_and_warns_once() -> None:
    cal = calendar(holidays=[date(2031, 1, 1)], workdays=[date(2031, 1, 4)])
    with capture_logs() as logs:
        assert not cal.is_workday(date(2031, 1, 1))  # Wednesday, override
        assert cal.is_workday(date(2031, 1, 4))  # Saturday, override
        assert not cal.is_workday(date(2031, 1, 5))  # Sunday
        assert cal.is_workday(date(2031, 1, 6))  # Monday
        assert cal.add(local(2031, 1, 3, 10), lim(2, "working_days")) == local(2031, 1, 6, 10)
    assert logs == [{"event": "calendar_year_not_covered", "year": 2031, "log_level": "warning"}]


def test_natural_day_mode_counts_every_day() -> None:
    cal = calendar(working_days=False)
    assert cal.is_workday(date(2025, 10, 1))
    assert cal.add(local(2025, 10, 4, 10), lim(2, "working_days")) == local(2025, 10, 6, 10)
    # office hours still bound working hours, on a Saturday too
    assert cal.add(local(2025, 10, 4, 16), lim(4, "working_hours")) == local(2025, 10, 5, 11, 30)


def test_span_fraction_is_natural_time() -> None:
    start, due = local(2025, 9, 30, 10), local(2025, 10, 16, 10)
    assert CAL.span_fraction(start, due, 0.8) == start + (due - start) * 0.8
    assert CAL.span_fraction(start, due, 1) == due


starts = st.datetimes(min_value=datetime(2004, 1, 2), max_value=datetime(2035, 12, 1), timezones=st.just(UTC))


@settings(max_examples=300)
@given(start=starts, amount=st.integers(1, 30) | st.floats(0.05, 30))
def test_working_days_land_on_a_working_day(start: datetime, amount: float) -> None:
    due = CAL.add(start, lim(amount, "working_days"))
    assert due > start
    assert CAL.is_workday(due.astimezone(SH).date())


@settings(max_examples=300)
@given(start=starts, amount=st.integers(1, 80) | st.floats(0.01, 80))
def test_working_hours_land_inside_office_hours(start: datetime, amount: float) -> None:
    due = CAL.add(start, lim(amount, "working_hours"))
    assert due > start
    here = due.astimezone(SH)
    assert CAL.is_workday(here.date())
    assert any(opens < here.time() <= closes for opens, closes in OFFICE.periods)


SNAPSHOT = CAL.snapshot(date(2025, 1, 1), date(2026, 12, 31))
CASE_CAL = CaseCalendar(SNAPSHOT)


def test_snapshot_lists_only_the_exceptions_to_monday_to_friday() -> None:
    assert date(2025, 10, 1) in SNAPSHOT.days_off and date(2025, 10, 6) in SNAPSHOT.days_off
    assert date(2025, 9, 28) in SNAPSHOT.workdays and date(2025, 10, 11) in SNAPSHOT.workdays
    assert all(d.weekday() < 5 for d in SNAPSHOT.days_off) and all(d.weekday() >= 5 for d in SNAPSHOT.workdays)
    assert SNAPSHOT.utc_offset_minutes == 8 * 60
    assert calendar(working_days=False).snapshot(date(2025, 1, 1), date(2025, 12, 31)).days_off == ()


def test_snapshot_carries_the_policy_overrides() -> None:
    snap = calendar(holidays=[date(2025, 9, 30)], workdays=[date(2025, 10, 4)]).snapshot(
        date(2025, 9, 1), date(2025, 10, 31)
    )
    assert date(2025, 9, 30) in snap.days_off and date(2025, 10, 4) in snap.workdays


in_span = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 1), timezones=st.just(UTC))


@settings(max_examples=300)
@given(
    start=in_span,
    amount=st.integers(1, 30) | st.floats(0.01, 30),
    unit=st.sampled_from(["working_days", "working_hours", "hours"]),
)
def test_a_case_calendar_plans_as_the_package_does(start: datetime, amount: float, unit: str) -> None:
    """A workflow's deadlines, from the snapshot it carries, are the ones the holiday package gives."""
    assert CASE_CAL.add(start, lim(amount, unit)) == CAL.add(start, lim(amount, unit))
