"""回访评价 and 重办: the resident rates the reply; 不满意 or worse sends it back, up to the cap, then to a
supervisor; a window that passes without a rating closes the case as 未评价."""

from __future__ import annotations

from temporalio import workflow

from models import payloads as pl
from models.case import Outcome, Rating, Status
from models.inputs import SYSTEM, UNSATISFIED, RateAction
from models.policy import Tier
from models.timeline import DeadlineKind, EventKind
from workflows import case_texts as say
from workflows.case_context import CaseContext
from workflows.case_steps.base import Step
from workflows.deadlines import ref


async def _rate(c: CaseContext, a: RateAction) -> None:
    now = workflow.now()
    closed = c.book.close(now, DeadlineKind.rating)
    c.s.rating = Rating(level=a.level, solved=a.solved, comment=a.comment, at=now)
    c.event(
        EventKind.rate,
        a.actor,
        c.s.replied_by,
        say.rated(a.level, a.solved),
        data=pl.Rated(level=a.level, solved=a.solved, replied_by=c.s.replied_by),
        deadline=ref(closed[0]) if closed else None,
    )
    if a.level not in UNSATISFIED:
        await c.close(Outcome.rated, a.actor, say.rated_closure(a.level))
        return
    rules = c.policy.rating
    replied_by = c.s.replied_by or c.holder
    # Rule set 1 counted the 不满意 past the cap as a reopen too; rule set 2 counts the reopens that happened.
    past_cap = c.s.reopen_count >= rules.reopen_cap if c.charged else c.s.reopen_count + 1 > rules.reopen_cap
    if past_cap:
        supervisor = c.policy.directory.supervisor.id
        if not c.charged:
            c.s.reopen_count += 1
        c.hold(supervisor, Tier.district, Status.supervisor)
        c.event(EventKind.to_supervisor, SYSTEM, supervisor, say.reopen_cap_reached(c, rules.reopen_cap, supervisor))
        return
    c.s.reopen_count += 1
    c.event(
        EventKind.reopen,
        SYSTEM,
        replied_by,
        say.reopened(c, c.s.reopen_count, replied_by, rules.reopen_limit),
        data=pl.Reopened(n=c.s.reopen_count),
    )
    await c.assign(replied_by, c.tier_of(replied_by), reply_limit=rules.reopen_limit, reopen=c.s.reopen_count)


async def window_passed(c: CaseContext) -> None:
    """The rating window ran out with the case still waiting for the resident."""
    if c.s.status is not Status.replied:
        return
    c.event(
        EventKind.rate,
        SYSTEM,
        c.s.replied_by,
        say.unrated(),
        data=pl.Rated(level="unrated", replied_by=c.s.replied_by),
    )
    await c.close(Outcome.unrated, SYSTEM, "未评价，期满销号")


RATE = Step(_rate)
