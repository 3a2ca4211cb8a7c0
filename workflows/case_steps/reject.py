"""不予受理: a supervisor closes a case that is out of scope, with the reason told to the resident."""

from __future__ import annotations

from models.case import Outcome
from models.inputs import RejectAction
from models.timeline import EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step


async def _apply(c: CaseContext, a: RejectAction) -> None:
    c.event(EventKind.reject, a.actor, c.s.holder, say.rejected(c, a.reason))
    await c.close(Outcome.rejected, a.actor, "不予受理，销号", tell_resident=False)  # told with its reason


REJECT = Step(_apply)
