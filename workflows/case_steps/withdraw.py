"""撤回: the resident, through the channel that took the case, withdraws it."""

from __future__ import annotations

from models.case import Outcome
from models.inputs import WithdrawAction
from models.timeline import EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step


async def _apply(c: CaseContext, a: WithdrawAction) -> None:
    c.event(EventKind.withdraw, a.actor, c.s.holder, say.withdrawn(a.reason))
    await c.close(Outcome.withdrawn, a.actor, "撤回，销号")


WITHDRAW = Step(_apply)
