"""上报: a grid or community that cannot solve the case passes it to the tier above."""

from __future__ import annotations

from models import payloads as pl
from models.errors import ErrorCode
from models.inputs import Actor, EscalateAction
from models.timeline import EventKind
from rules.routing import next_tier
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step, no_whistle
from workflows.common import reject


def _guard(c: CaseContext, actor: Actor) -> None:
    no_whistle(c, "上报")
    if next_tier(c.policy.directory, c.holder) is None:
        raise reject(ErrorCode.cannot_escalate, "街道和部门不能再上报：街道可吹哨召集部门，或申请延期")


async def _apply(c: CaseContext, a: EscalateAction) -> None:
    holder = c.holder
    above = next_tier(c.policy.directory, holder)
    assert above is not None
    c.event(EventKind.escalate, a.actor, holder, say.escalated(c, above.name, a.reason), data=pl.Moved(to=above.id))
    await c.assign(above.id, above.tier)


ESCALATE = Step(_apply, guard=_guard)
