"""What both workflows share: how they refuse, and how they plan deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.case import Plan
    from models.io import PlanInput
    from models.policy import CalendarPolicy, Limit, Supervision, WorkingDays
    from policy.workdays import CaseCalendar

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def reject(code: str, message: str) -> ApplicationError:
    """A refusal a person understands (Chinese), with a machine code as the error type."""
    return ApplicationError(message, type=code, non_retryable=True)


async def plan(
    items: Sequence[tuple[datetime, Limit]],
    calendar: CalendarPolicy,
    supervision: Supervision,
    workdays: WorkingDays | None,
) -> list[Plan]:
    """Deadlines on the case's own calendar, computed here; cases opened before cases carried their calendar
    (`workdays` is None) keep asking the calendar activity, as their histories recorded."""
    if workdays is not None:
        clock = CaseCalendar(workdays)
        return [clock.plan(start, limit, supervision) for start, limit in items]
    return await workflow.execute_local_activity(
        "plan_deadlines",
        PlanInput(
            starts=[start for start, _ in items],
            limits=[limit for _, limit in items],
            calendar=calendar,
            supervision=supervision,
        ),
        result_type=list[Plan],
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=ACTIVITY_RETRY,
    )
