"""Deadline arithmetic on a working calendar, with no I/O: the workflows run it on the `WorkingDays` a case
carries, and `policy.calendar` runs it on the holiday package for the API's previews.

This is workflow code: the calendar data is recorded at intake, but how a limit is counted here decides the
deadlines of every open case on replay. Change it behind `workflow.patched`, as any workflow logic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from models.policy import Limit, LimitUnit, OfficeHours, Supervision, WorkingDays
from models.timeline import Plan

_NATURAL = {
    LimitUnit.minutes: timedelta(minutes=1),
    LimitUnit.hours: timedelta(hours=1),
    LimitUnit.days: timedelta(days=1),
}


class DeadlineClock(ABC):
    """Adds `Limit`s to instants, given which dates are working days, the office hours and the local zone."""

    working_days: bool
    office_hours: OfficeHours
    tz: tzinfo

    @abstractmethod
    def is_workday(self, d: date) -> bool: ...

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

    def plan(self, start: datetime, limit: Limit, supervision: Supervision) -> Plan:
        """A deadline with its 催办 and 通报 points."""
        due = self.add(start, limit)
        return Plan(
            due_at=due,
            urge_at=self.span_fraction(start, due, supervision.urge_fraction),
            notice_at=self.add(due, supervision.public_notice_after),
        )

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
        periods = self.office_hours.periods
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


class CaseCalendar(DeadlineClock):
    """The clock on a case's `WorkingDays`: deterministic, so workflows plan their deadlines themselves."""

    def __init__(self, days: WorkingDays) -> None:
        self.working_days = days.working_days
        self.office_hours = days.office_hours
        self.tz = timezone(timedelta(minutes=days.utc_offset_minutes))
        self._days_off = frozenset(days.days_off)
        self._workdays = frozenset(days.workdays)

    def is_workday(self, d: date) -> bool:
        if not self.working_days or d in self._workdays:
            return True
        return d not in self._days_off and d.weekday() < 5
