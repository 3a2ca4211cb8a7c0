"""Deadlines on China's working calendar: weekends, statutory holidays and 调休 make-up working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog

from models.policy import CalendarPolicy, Limit, LimitUnit

_NATURAL = {
    LimitUnit.minutes: timedelta(minutes=1),
    LimitUnit.hours: timedelta(hours=1),
    LimitUnit.days: timedelta(days=1),
}


class WorkingCalendar:
    """Adds `Limit`s to instants. Build one per policy and keep it: uncovered years warn once per instance."""

    def __init__(self, policy: CalendarPolicy) -> None:
        self.policy = policy
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

    def add(self, start: datetime, limit: Limit) -> datetime:
        """`start` plus `limit`, as an aware UTC datetime."""
        if start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        step = _NATURAL.get(limit.unit)
        if step is not None:
            return start.astimezone(UTC) + limit.amount * step
        # calendar arithmetic runs on local wall-clock time, where a working day is a date
        local = start.astimezone(self.tz).replace(tzinfo=None)
        if limit.unit is LimitUnit.working_days:
            end = self._walk_days(local, timedelta(days=limit.amount))
        else:
            end = self._walk_office_hours(local, timedelta(hours=limit.amount))
        return end.replace(tzinfo=self.tz).astimezone(UTC)

    def span_fraction(self, start: datetime, due: datetime, fraction: float) -> datetime:
        """The instant `fraction` of the way from `start` to `due`, in natural time (催办 at 80%)."""
        return (start + (due - start) * fraction).astimezone(UTC)

    def _walk_days(self, t: datetime, remaining: timedelta) -> datetime:
        # Consuming the working days' 24 hours one after the other gives "N working days later at the same
        # clock time", snaps a start on a day off to the next working day's 00:00, and places a fraction.
        while True:
            day = t.date()
            midnight = datetime.combine(day + timedelta(days=1), time())
            if self.is_workday(day):
                if t + remaining < midnight:
                    return t + remaining
                remaining -= midnight - t
            t = midnight

    def _walk_office_hours(self, t: datetime, remaining: timedelta) -> datetime:
        periods = self.policy.office_hours.periods
        if not periods:
            raise ValueError("working_hours limits need office_hours periods")
        while True:
            day = t.date()
            if self.is_workday(day):
                for opens, closes in periods:
                    begin = max(t, datetime.combine(day, opens))
                    end = datetime.combine(day, closes)
                    if begin >= end:
                        continue
                    # "<=": a limit ending exactly at closing time is due then, not at the next opening
                    if begin + remaining <= end:
                        return begin + remaining
                    remaining -= end - begin
            t = datetime.combine(day + timedelta(days=1), time())
