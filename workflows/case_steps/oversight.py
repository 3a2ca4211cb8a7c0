"""催办 and 督办 by a supervisor's hand, and 督办销号 of a case that waits for the supervisor."""

from __future__ import annotations

from models.case import Outcome
from models.inputs import CloseAction, SuperviseAction, UrgeAction
from models.timeline import EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step


async def _urge(c: CaseContext, a: UrgeAction) -> None:
    c.event(EventKind.urge, a.actor, c.s.holder, say.urged_by_hand(c, a.note))


async def _supervise(c: CaseContext, a: SuperviseAction) -> None:
    c.event(EventKind.supervise, a.actor, c.s.holder, say.supervised_by_hand(c, a.note))


async def _close(c: CaseContext, a: CloseAction) -> None:
    await c.close(Outcome.closed_by_supervisor, a.actor, f"督办处置销号：{a.reason}")


URGE = Step(_urge)
SUPERVISE = Step(_supervise)
CLOSE = Step(_close)
