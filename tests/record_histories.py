"""Record representative case histories into tests/histories/ for the replay tests.

Run after a deliberate change of workflow behaviour that keeps older histories replaying (behind
`workflow.patched`, or decided by what history recorded, as `CasePolicy.workdays` is), and keep the older files
under a new name; never run it to paper over a replay failure: `.venv/bin/python -m tests.record_histories`
(every story) or `... record_histories merged` (the named ones only: reopened, escalated, whistled, merged).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.case import (
    ContactAction,
    DepartmentRating,
    MergeAction,
    RateAction,
    RateDepartmentsAction,
    ReleaseAction,
    ReplyAction,
    ReportAction,
    SignAction,
)
from models.policy import WhistleKind
from tests.conftest import register_search_attributes
from tests.helpers import TASK_QUEUE, channel, ready, start_case, supervisor, unit, whistled_at_street
from tests.servers import time_skipping_env
from worker import build_worker
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

HERE = Path(__file__).parent / "histories"


async def reopened(env: WorkflowEnvironment, client: Client) -> None:
    """The happy path with a reopen."""
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}")
    await ready(h)
    g = unit("grid-a1-1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="已清运"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="unsatisfied", solved=False))
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="再次清运并加装垃圾桶"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_reopened_then_rated.json").write_text((await h.fetch_history()).to_json())


async def escalated(env: WorkflowEnvironment, client: Client) -> None:
    """Nobody acts: the case climbs every tier, is supervised and publicly noticed."""
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}", category="street_vending")
    await ready(h)
    await env.sleep(timedelta(days=30))
    (HERE / "case_auto_escalated.json").write_text((await h.fetch_history()).to_json())


async def whistled(env: WorkflowEnvironment, client: Client) -> None:
    """A whistle with one late 报到."""
    h, w = await whistled_at_street(
        env, client, f"rec-{uuid.uuid4().hex[:8]}", WhistleKind.ordinary, ["dept-enforcement", "dept-housing"]
    )
    street = unit("street-a")
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=unit("dept-enforcement")))
    await env.sleep(timedelta(hours=2))
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=unit("dept-housing")))
    for d in ("dept-enforcement", "dept-housing"):
        await w.execute_update(WhistleWorkflow.contact, ContactAction(actor=unit(d), note="已对接"))
        await w.execute_update(WhistleWorkflow.release, ReleaseAction(actor=street, department=d, note="完成"))
    await w.execute_update(
        WhistleWorkflow.rate,
        RateDepartmentsAction(
            actor=street,
            ratings=[
                DepartmentRating(department="dept-enforcement", speed=5, cooperation=5, result=5),
                DepartmentRating(department="dept-housing", speed=2, cooperation=4, result=4),
            ],
        ),
    )
    await w.result()
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=street, result="违建已拆除"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_whistled.json").write_text((await h.fetch_history()).to_json())
    (HERE / "whistle_late_report.json").write_text((await w.fetch_history()).to_json())


async def merged(env: WorkflowEnvironment, client: Client) -> None:
    """A duplicate merged into another case (合并), which then goes on and is struck off."""
    target = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}")
    duplicate = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}")
    await ready(target)
    await ready(duplicate)
    await duplicate.execute_update(
        CaseWorkflow.merge, MergeAction(actor=supervisor(), into_case_id=target.id, reason="同一地点同一问题")
    )
    await duplicate.result()
    g = unit("grid-a1-1")
    await target.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    await target.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="已处理"))
    await target.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await target.result()
    (HERE / "case_merged.json").write_text((await duplicate.fetch_history()).to_json())
    (HERE / "case_merged_into.json").write_text((await target.fetch_history()).to_json())


STORIES: dict[str, Callable[[WorkflowEnvironment, Client], Awaitable[None]]] = {
    "reopened": reopened,
    "escalated": escalated,
    "whistled": whistled,
    "merged": merged,
}


async def main(names: list[str]) -> None:
    env = await time_skipping_env()
    async with env:
        await register_search_attributes(env.client)
        db = HERE.parent / ".record.db"
        worker = build_worker(env.client, task_queue=TASK_QUEUE, database_url=f"sqlite:///{db}")
        async with worker:
            for name in names:
                await STORIES[name](env, env.client)
        for f in db.parent.glob(".record.db*"):
            f.unlink()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or list(STORIES)))
