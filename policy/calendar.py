"""Deadlines on China's working calendar: weekends, statutory holidays and 调休 make-up working days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog

from models.policy import CalendarPolicy, WorkingDays
from rules.workdays import DeadlineClock


class WorkingCalendar(DeadlineClock):
    """China's calendar from the holiday package plus the policy's overrides. Build one per policy and keep it:
    uncovered years warn once per instance."""

    def __init__(self, policy: CalendarPolicy) -> None:
        self.policy = policy
        self.working_days = policy.working_days
        self.office_hours = policy.office_hours
        self.tz = ZoneInfo(policy.timezone)
        self._workdays = frozenset(policy.workdays)
        self._holidays = frozenset(policy.holidays)
        self._uncovered_years: set[int] = set()

    def is_workday(self, d: date) -> bool:
        if not self.policy.working_days:
            return True
        if d in self._workdays:
            return True
        if d in self._holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            # the package only knows years the State Council has published; a deadline must still be computed
            if d.year not in self._uncovered_years:
                self._uncovered_years.add(d.year)
                # fetched per call so a test's capture_logs sees it even if structlog caches loggers
                structlog.get_logger(__name__).warning("calendar_year_not_covered", year=d.year)
            return d.weekday() < 5

    def snapshot(self, first: date, last: date) -> WorkingDays:
        """The calendar between `first` and `last` as a case carries it: the exceptions to Monday–Friday
        (an uncovered year warns here, when cases are opened)."""
        days_off: list[date] = []
        workdays: list[date] = []
        d = first
        while self.working_days and d <= last:
            weekday = d.weekday() < 5
            if self.is_workday(d) != weekday:
                (days_off if weekday else workdays).append(d)
            d += timedelta(days=1)
        offset = datetime.combine(first, time(12), self.tz).utcoffset()
        assert offset is not None
        return WorkingDays(
            working_days=self.working_days,
            office_hours=self.office_hours,
            utc_offset_minutes=int(offset.total_seconds() // 60),
            first=first,
            last=last,
            days_off=tuple(days_off),
            workdays=tuple(workdays),
        )


HORIZON = timedelta(days=60)
"""How far ahead the working calendar must be known: the longest limits (15 working days, an extension on top)
run into the next year well before it starts."""


def covered_through(policy: CalendarPolicy, today: date) -> date | None:
    """The last day of the unbroken run of years, from today's on, whose holidays are known: the years the holiday
    package has, and the years `calendar.toml` lists holidays for (a city adds the State Council's schedule there
    the day it is published). None when the city counts natural days: there is nothing to know."""
    if not policy.working_days:
        return None
    year = today.year
    while _year_known(year, policy):
        year += 1
    return date(year, 1, 1) - timedelta(days=1)


def _year_known(year: int, policy: CalendarPolicy) -> bool:
    if any(d.year == year for d in policy.holidays):
        return True
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True
