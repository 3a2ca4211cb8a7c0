"""受理 and 派单: the slice of the policy a case keeps, with its working days, and the unit it goes to first."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from models.case import CasePolicy, OpenCaseResult
from models.intake import Intake
from models.policy import CalendarPolicy, Policy, WorkingDays
from policy.calendar import WorkingCalendar
from rules.routing import route


class UnknownCategory(LookupError):
    pass


@lru_cache(maxsize=32)
def calendar_for(policy: CalendarPolicy) -> WorkingCalendar:
    """One calendar per calendar policy, so its look-ups and its year-not-covered warning happen once."""
    return WorkingCalendar(policy)


@lru_cache(maxsize=64)
def workdays_for(policy: CalendarPolicy, first: date, last: date) -> WorkingDays:
    """Cases opened on the same day carry the same calendar: resolve it once."""
    return calendar_for(policy).snapshot(first, last)


def snapshot_case(policy: Policy, intake: Intake, today: date) -> OpenCaseResult:
    """The policy in force for this case and its routing. Raises UnknownCategory, or RoutingError for the grid."""
    category = policy.category(intake.category)
    if category is None:
        raise UnknownCategory(f"unknown category {intake.category}")
    routing = route(category, intake.location.grid_id, policy.directory)
    urgency = intake.urgency or category.urgency
    reported = intake.reported_at.date()
    snapshot = CasePolicy(
        version=policy.version,
        urgency=urgency,
        limits=policy.limits[urgency],
        category=category,
        whistle=policy.whistle,
        supervision=policy.supervision,
        rating=policy.rating,
        directory=policy.directory.for_case(
            (
                intake.location.grid_id,
                routing.lead,
                *routing.assisting,
                *([category.owner_unit] if category.owner_unit else []),
            )
        ),
        # from the report (its 派单 limit counts from there) to the end of next year
        workdays=workdays_for(
            policy.calendar, min(reported, today) - timedelta(days=1), date(max(reported, today).year + 1, 12, 31)
        ),
    )
    return OpenCaseResult(policy=snapshot, routing=routing)
