"""A unit's queue: what it must do now, the most pressing first. A case past every limit it has is the most
pressing of all, shown with the limit it missed, never as one with no limit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.inputs import SignAction, SuspendAction
from models.reads import QueueItem
from models.timeline import DeadlineKind
from services.queries import queue
from tests.helpers import ready, server_now, sleep_past, start_case, unit, until
from workflows.case import CaseWorkflow


async def test_a_case_past_all_its_limits_heads_the_queue_with_the_limit_it_missed(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    # 电梯困人: 30 minutes to sign and 30 to reply, at the lift firm; nobody replies.
    late = await start_case(client, f"{ticket}-late", category="lift_entrapment")
    await ready(late)
    await late.execute_update(CaseWorkflow.sign, SignAction(actor=unit("firm-lift")))
    reply = next(d for d in (await late.query(CaseWorkflow.view)).deadlines if d.kind is DeadlineKind.reply)
    await sleep_past(env, late, DeadlineKind.reply)
    fresh = await start_case(client, f"{ticket}-fresh", category="lift_entrapment")
    await ready(fresh)

    async def listed() -> list[QueueItem]:
        now = await server_now(client)
        with Session(engine) as s:
            items = queue(s, unit_id="firm-lift", now=now).data
        mine = [i for i in items if i.case_id in (late.id, fresh.id)]
        return mine if len(mine) == 2 and (await late.query(CaseWorkflow.view)).overdue else []

    first, second = await until(listed)
    assert (first.case_id, second.case_id) == (late.id, fresh.id)
    assert first.due_at is not None and first.due_at == reply.due_at
    assert first.seconds_left is not None and first.seconds_left < 0


async def test_a_suspended_case_shows_no_countdown_and_never_turns_overdue_in_the_queue(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    """挂账 stops the clocks: a case suspended for a winter is not shown as months overdue at the top."""
    h = await start_case(client, ticket, category="lift_entrapment")
    await ready(h)
    firm = unit("firm-lift")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=firm))
    await h.execute_update(CaseWorkflow.suspend, SuspendAction(actor=firm, reason="待更换整机，厂家排产中"))
    later = await server_now(client) + timedelta(days=30)
    with Session(engine) as s:
        (item,) = [i for i in queue(s, unit_id="firm-lift", now=later).data if i.case_id == h.id]
    assert item.status == "suspended" and item.due_at is None and item.seconds_left is None, item
