"""What both workflows share: how they refuse, how they plan deadlines, and how an action becomes an update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.actions import ActionSpec
    from models.errors import ErrorCode
    from models.inputs import Action
    from models.io import PlanInput
    from models.policy import CalendarPolicy, Limit, Supervision, WorkingDays
    from models.timeline import Plan
    from rules.workdays import CaseCalendar

A = TypeVar("A", bound=Action)
R = TypeVar("R")

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def reject(code: ErrorCode, message: str) -> ApplicationError:
    """A refusal a person understands (Chinese), with its code as the error type."""
    return ApplicationError(message, type=code.value, non_retryable=True)


async def plan(
    items: Sequence[tuple[datetime, Limit]],
    calendar: CalendarPolicy | None,
    supervision: Supervision,
    workdays: WorkingDays | None,
) -> list[Plan]:
    """Deadlines on the case's own calendar, computed here; cases opened before cases carried their calendar
    (`workdays` is None) keep asking the calendar activity with the calendar they carried, as their histories
    recorded."""
    if workdays is not None:
        clock = CaseCalendar(workdays)
        return [clock.plan(start, limit, supervision) for start, limit in items]
    assert calendar is not None, "a case carries its working days or, opened before them, its calendar"
    plans: list[Plan] = await workflow.execute_local_activity(
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
    return plans


class HasContext(Protocol):
    context: Any


def bind_update(
    spec: ActionSpec[A],
    act: Callable[[Any, ActionSpec[A], A], Awaitable[R]],
    validate: Callable[[Any, ActionSpec[A], A], None],
    result: type[R],
) -> workflow.UpdateMethodMultiParam[[Any, A], R]:
    """A workflow update (with its validator) for a registry row, acting on the workflow's `context`."""

    async def handler(self: HasContext, a: A) -> R:
        return await act(self.context, spec, a)

    def validator(self: HasContext, a: A) -> None:
        validate(self.context, spec, a)

    handler.__name__ = validator.__name__ = spec.update
    # Real classes, and no annotation on self (temporalio reads the payload type from the second parameter).
    handler.__annotations__ = {"a": spec.model, "return": result}
    validator.__annotations__ = {"a": spec.model, "return": None}
    update = workflow.update(name=spec.update)(handler)
    update.validator(validator)
    return cast(workflow.UpdateMethodMultiParam[[Any, A], R], update)
