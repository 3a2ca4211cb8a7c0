"""合并: a supervisor merges a duplicate into another open case, which records it and tells its holder."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models import payloads as pl
from models.case import Outcome, Status
from models.errors import ErrorCode
from models.inputs import MergeAction
from models.io import MergeNote
from models.timeline import EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step
from workflows.common import reject

MERGED_IN_SIGNAL = "merged_in"


def _check(c: CaseContext, a: MergeAction) -> None:
    if a.into_case_id == c.s.case_id:
        raise reject(ErrorCode.invalid_input, "不能合并到本诉求自身")


async def _apply(c: CaseContext, a: MergeAction) -> None:
    if workflow.patched("merge-tells-target"):
        # First, so that a target that is not there refuses the merge before this case changes.
        note = MergeNote(case_id=c.s.case_id, reason=a.reason, actor=a.actor.label())
        try:
            await workflow.get_external_workflow_handle(a.into_case_id).signal(MERGED_IN_SIGNAL, note)
        except ApplicationError as err:
            raise reject(ErrorCode.merge_target_not_found, f"合并目标{a.into_case_id}不存在或已销号") from err
    c.event(
        EventKind.merge,
        a.actor,
        c.s.holder,
        say.merged(a.into_case_id, a.reason),
        data=pl.MergedInto(into=a.into_case_id),
    )
    await c.close(Outcome.merged, a.actor, say.merged_closure(a.into_case_id))


def merged_in(c: CaseContext, note: MergeNote) -> None:
    """A duplicate was merged into this case: its timeline records it, and its holder is told."""
    if c.s.status is Status.closed:
        return
    c.event(
        EventKind.merged_in,
        None,
        c.s.holder,
        say.merged_in(c, note.case_id, note.reason),
        data=pl.MergedFrom(duplicate=note.case_id),
        actor_label=note.actor,
    )
    c.timer.poke()


MERGE = Step(_apply, check=_check)
