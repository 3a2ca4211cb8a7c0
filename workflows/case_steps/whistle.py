"""吹哨: a community or street summons departments; the whistle runs as a child workflow and reports back."""

from __future__ import annotations

from temporalio import workflow

from models import payloads as pl
from models.case import Status
from models.errors import ErrorCode
from models.inputs import Actor, WhistleAction
from models.io import WhistleNote
from models.policy import Tier
from models.timeline import EventKind
from models.whistle import WhistleInput, WhistleSummary, whistle_workflow_id
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step, known_units, no_whistle
from workflows.common import reject
from workflows.whistle import WhistleWorkflow


def _guard(c: CaseContext, actor: Actor) -> None:
    if c.s.tier not in (Tier.community, Tier.street):
        raise reject(ErrorCode.wrong_tier, "只有社区和街道可以吹哨")
    no_whistle(c, "再次吹哨")


def _check(c: CaseContext, a: WhistleAction) -> None:
    if len(set(a.departments)) != len(a.departments):
        raise reject(ErrorCode.invalid_input, "被召集部门重复")
    directory = known_units(c, a)
    for d in a.departments:
        unit = directory.get(d)
        if unit is not None and unit.tier is not Tier.department:
            raise reject(ErrorCode.invalid_input, f"{unit.name}不是职能部门，不能被吹哨召集")


async def _apply(c: CaseContext, a: WhistleAction) -> None:
    c.learn(a.units)
    p = c.policy
    holder = c.holder
    n = len(c.s.whistles) + 1
    wf_id = whistle_workflow_id(c.s.case_id, n)
    now, limits = workflow.now(), p.whistle[a.kind]
    plans = await c.plan((now, limits.report), (now, limits.contact), (now, limits.finish)) if c.charged else None
    await workflow.start_child_workflow(
        WhistleWorkflow.run,
        WhistleInput(
            case_id=c.s.case_id,
            n=n,
            kind=a.kind,
            whistler=holder,
            departments=a.departments,
            names={u: c.name(u) for u in (holder, *a.departments)},
            limits=limits,
            calendar=p.calendar,
            supervision=p.supervision,
            workdays=p.workdays,
            planned=plans,
            planned_at=now if plans else None,
            notes_per_task=True,
        ),
        id=wf_id,
        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
    )
    c.s.whistles.append(WhistleSummary(n=n, workflow_id=wf_id, kind=a.kind, whistler=holder, departments=a.departments))
    c.event(
        EventKind.whistle,
        a.actor,
        holder,
        say.whistled(c, a.kind, a.departments, a.reason),
        data=pl.Whistled(
            n=n,
            kind=a.kind,
            departments=a.departments,
            report_due=plans[0].due_at if plans else None,
            contact_due=plans[1].due_at if plans else None,
            finish_due=plans[2].due_at if plans else None,
        ),
    )


def noted(c: CaseContext, note: WhistleNote) -> None:
    """A whistle reports into the case's single timeline; its own updates were validated there."""
    if c.s.status is Status.closed:
        return
    e = note.event
    c.event(
        e.kind,
        None,
        e.unit_id,
        say.Line(e.text, tuple(note.notices)),
        data=e.data,
        deadline=e.deadline,
        actor_label=e.actor,
    )
    if e.kind is EventKind.whistle_closed:
        for w in c.s.whistles:
            if w.n == note.n:
                w.active = False
    c.timer.poke()


WHISTLE = Step(_apply, guard=_guard, check=_check)
