"""签收: the holding unit acknowledges the case; its sign deadline is met or was missed."""

from __future__ import annotations

from temporalio import workflow

from models.case import Status
from models.inputs import SignAction
from models.timeline import DeadlineKind, EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step
from workflows.deadlines import ref


async def apply(c: CaseContext, a: SignAction) -> None:
    closed = c.book.close(workflow.now(), DeadlineKind.sign, unit_id=c.s.holder)
    c.s.status = Status.handling
    c.event(EventKind.sign, a.actor, c.s.holder, say.signed(c), deadline=ref(closed[0]) if closed else None)


SIGN = Step(apply)
