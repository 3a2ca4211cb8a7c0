"""Record representative case histories into tests/histories/ for the replay tests.

Run after a deliberate change of workflow behaviour that keeps older histories replaying (behind
`workflow.patched`, or decided by what history recorded, as `CasePolicy.workdays` is), and keep the older files
under a new name; never run it to paper over a replay failure: `.venv/bin/python -m tests.record_histories`
(every story) or `... record_histories merged returned` (the named ones only; see STORIES). Between them the
stories take every update and signal the workflows define; `changed` records a deliberately changed workflow,
whose history the current code must refuse.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.case import CaseActivities
from activities.notify import Notifier
from models.case import CaseInput, ClosureRecord
from models.inputs import (
    CloseAction,
    ContactAction,
    EscalateAction,
    ExtendAction,
    ExtensionDecision,
    ExtensionRequest,
    MergeAction,
    RateAction,
    RateDepartmentsAction,
    RedispatchAction,
    RejectAction,
    ReleaseAction,
    ReplyAction,
    ReportAction,
    ResumeAction,
    ReturnAction,
    ReturnDecision,
    SignAction,
    SuperviseAction,
    SuspendAction,
    UrgeAction,
    WithdrawAction,
)
from models.payloads import DepartmentRating
from models.policy import Limit, LimitUnit, Urgency, WhistleKind
from models.timeline import DeadlineKind
from policy import load_policy
from services.intake import start_options
from store.db import engine_for
from tests.conftest import register_search_attributes
from tests.helpers import (
    TASK_QUEUE,
    channel,
    intake,
    ready,
    sent,
    server_now,
    sleep_past,
    start_case,
    supervisor,
    unit,
    whistled_at_street,
)
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


async def rate_reply_and_save(
    h: WorkflowHandle[Any, Any],
    w: WorkflowHandle[Any, Any],
    housing: tuple[int, int, int],
    case_file: str,
    whistle_file: str,
) -> None:
    """The street rates both departments (housing as given), replies, the resident is satisfied; both saved."""
    street = unit("street-a")
    speed, cooperation, result = housing
    ratings = [
        DepartmentRating(department="dept-enforcement", speed=5, cooperation=5, result=5),
        DepartmentRating(department="dept-housing", speed=speed, cooperation=cooperation, result=result),
    ]
    await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=street, ratings=ratings))
    await w.result()
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=street, result="违建已拆除"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / case_file).write_text((await h.fetch_history()).to_json())
    (HERE / whistle_file).write_text((await w.fetch_history()).to_json())


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
    await rate_reply_and_save(h, w, (2, 4, 4), "case_whistled.json", "whistle_late_report.json")


async def absent_released(env: WorkflowEnvironment, client: Client) -> None:
    """A department that never reports, released by its whistler once its 报到 limit is missed."""
    h, w = await whistled_at_street(
        env, client, f"rec-{uuid.uuid4().hex[:8]}", WhistleKind.ordinary, ["dept-enforcement", "dept-housing"]
    )
    street = unit("street-a")
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=unit("dept-enforcement")))
    await env.sleep(timedelta(hours=2))
    await w.execute_update(
        WhistleWorkflow.release, ReleaseAction(actor=street, department="dept-housing", note="未到场")
    )
    await w.execute_update(
        WhistleWorkflow.release, ReleaseAction(actor=street, department="dept-enforcement", note="完成")
    )
    await rate_reply_and_save(h, w, (1, 1, 1), "case_whistle_absent_released.json", "whistle_absent_released.json")


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


async def returned(env: WorkflowEnvironment, client: Client) -> None:
    """退单 refused then approved, 改派, 延期 approved and refused, 挂账 and 恢复, 催办 and 督办 by hand."""
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}")
    await ready(h)
    g, comm, boss = unit("grid-a1-1"), unit("comm-a1"), supervisor()
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=g, reason="不属于本网格"))
    await h.execute_update(CaseWorkflow.decide_return, ReturnDecision(actor=comm, approve=False, reason="属本网格"))
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=g, reason="确属第二网格"))
    # grid-a1-2 is not in the case's part of the directory: the decision brings its chain, as every sender does
    approve = sent(ReturnDecision(actor=comm, approve=True, to_unit="grid-a1-2", reason="同意改派"))
    await h.execute_update(CaseWorkflow.decide_return, approve)
    redispatch = RedispatchAction(actor=boss, to_unit="dept-sanitation", reason="由环卫直接处置")
    await h.execute_update(CaseWorkflow.redispatch, redispatch)
    dept = unit("dept-sanitation")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=dept))
    amount = Limit(amount=1, unit=LimitUnit.working_days)
    ask = ExtensionRequest(actor=dept, amount=amount, reason="需调度清运车辆")
    await h.execute_update(CaseWorkflow.request_extension, ask)
    await h.execute_update(CaseWorkflow.decide_extension, ExtensionDecision(actor=boss, approve=True, reason="同意"))
    await h.execute_update(CaseWorkflow.request_extension, ask)
    await h.execute_update(CaseWorkflow.decide_extension, ExtensionDecision(actor=boss, approve=False, reason="不再延"))
    await h.execute_update(CaseWorkflow.suspend, SuspendAction(actor=dept, reason="待垃圾转运站检修完成"))
    await env.sleep(timedelta(hours=2))
    await h.execute_update(CaseWorkflow.resume, ResumeAction(actor=dept, reason="转运站已恢复"))
    await h.execute_update(CaseWorkflow.urge, UrgeAction(actor=boss, note="群众再次来电"))
    await h.execute_update(CaseWorkflow.supervise, SuperviseAction(actor=boss, note="请今日办结"))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=dept, result="已清运"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_returned_extended_suspended.json").write_text((await h.fetch_history()).to_json())


async def struck_off(env: WorkflowEnvironment, client: Client) -> None:
    """撤回 by the resident (of a case a channel opened as the API does: start-and-wait), 不予受理 by the supervisor."""
    inp = intake(f"rec-{uuid.uuid4().hex[:8]}", reported_at=await server_now(client))
    start = WithStartWorkflowOperation(CaseWorkflow.run, **start_options(TASK_QUEUE, inp, load_policy()))
    await client.execute_update_with_start_workflow(CaseWorkflow.opened, start_workflow_operation=start)
    h = await start.workflow_handle()
    await h.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="问题已自行解决"))
    await h.result()
    (HERE / "case_withdrawn.json").write_text((await h.fetch_history()).to_json())
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}")
    await ready(h)
    await h.execute_update(CaseWorkflow.reject_case, RejectAction(actor=supervisor(), reason="属司法诉讼事项"))
    await h.result()
    (HERE / "case_rejected.json").write_text((await h.fetch_history()).to_json())


async def supervisor_queue(env: WorkflowEnvironment, client: Client) -> None:
    """A street out of time goes to the supervisor (待督办改派), who gives it more time, then 改派 to a department."""
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}", category="street_vending")
    await ready(h)
    for who in ("grid-a1-1", "comm-a1"):
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit(who)))
        await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=unit(who), reason="需上级协调"))
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("street-a")))
    await env.sleep(timedelta(days=5))
    amount = Limit(amount=1, unit=LimitUnit.working_days)
    await h.execute_update(CaseWorkflow.extend, ExtendAction(actor=supervisor(), amount=amount, reason="再给一天"))
    await env.sleep(timedelta(days=4))
    redispatch = RedispatchAction(actor=supervisor(), to_unit="dept-enforcement", reason="改派执法局")
    await h.execute_update(CaseWorkflow.redispatch, redispatch)
    dept = unit("dept-enforcement")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=dept))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=dept, result="已依法取缔"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="basically_satisfied", solved=True))
    await h.result()
    (HERE / "case_supervisor_queue.json").write_text((await h.fetch_history()).to_json())


async def reopen_cap(env: WorkflowEnvironment, client: Client) -> None:
    """不满意 past the reopen cap: the supervisor strikes the case off (督办销号)."""
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}")
    await ready(h)
    g = unit("grid-a1-1")
    for _ in range(3):
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
        await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="已处理"))
        await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="unsatisfied", solved=False))
    await h.execute_update(CaseWorkflow.close, CloseAction(actor=supervisor(), reason="经核实已依法处理"))
    await h.result()
    (HERE / "case_reopen_cap_closed.json").write_text((await h.fetch_history()).to_json())


async def continued(env: WorkflowEnvironment, client: Client) -> None:
    """A case that continues as new carrying its state (after a few events here, as a long case would)."""
    inp = intake(f"rec-{uuid.uuid4().hex[:8]}", reported_at=await server_now(client))
    options = start_options(TASK_QUEUE, inp, load_policy())
    options["arg"] = options["arg"].model_copy(update={"continue_after_events": 4})
    h = await client.start_workflow(CaseWorkflow.run, **options)
    await ready(h)
    g = unit("grid-a1-1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    await h.execute_update(CaseWorkflow.urge, UrgeAction(actor=supervisor(), note="请加快"))
    await env.sleep(timedelta(minutes=1))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="已清运"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    first = client.get_workflow_handle(h.id, run_id=h.first_execution_run_id)
    (HERE / "case_continued_first_run.json").write_text((await first.fetch_history()).to_json())
    last = client.get_workflow_handle(h.id)
    await last.result()
    (HERE / "case_continued_last_run.json").write_text((await last.fetch_history()).to_json())


async def late_and_lapsed(env: WorkflowEnvironment, client: Client) -> None:
    """A street's slice runs out during its whistle (the whistler stays the lead); a 延期 approved after the limit
    passed (a limit of its own); a 退单 left undecided lapses as the slice runs out and the case climbs; a case
    filed in another class than its category's (that class's 办结 limit)."""
    h, w = await whistled_at_street(env, client, f"rec-{uuid.uuid4().hex[:8]}", WhistleKind.hard, ["dept-police"])
    street, police = unit("street-a"), unit("dept-police")
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=police))
    await sleep_past(env, h, DeadlineKind.tier)
    await w.execute_update(WhistleWorkflow.release, ReleaseAction(actor=street, department="dept-police", note="完成"))
    rating = DepartmentRating(department="dept-police", speed=4, cooperation=4, result=4)
    await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=street, ratings=[rating]))
    await w.result()
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=street, result="违建已拆除"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_whistler_leads_past_its_slice.json").write_text((await h.fetch_history()).to_json())

    g, comm = unit("grid-a1-1"), unit("comm-a1")
    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}", category="exposed_rubbish")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    more = Limit(amount=2, unit=LimitUnit.working_hours)
    await h.execute_update(CaseWorkflow.request_extension, ExtensionRequest(actor=g, amount=more, reason="等车"))
    await sleep_past(env, h, DeadlineKind.reply)
    await h.execute_update(CaseWorkflow.decide_extension, ExtensionDecision(actor=comm, approve=True, reason="同意"))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="已清运"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_extension_after_a_miss.json").write_text((await h.fetch_history()).to_json())

    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}", category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=g, reason="不属本网格"))
    await sleep_past(env, h, DeadlineKind.tier)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=comm))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=comm, result="已劝离"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_return_lapsed.json").write_text((await h.fetch_history()).to_json())

    h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}", category="exposed_rubbish", urgency=Urgency.emergency)
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=g))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=g, result="已清运"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    await h.result()
    (HERE / "case_filed_in_another_class.json").write_text((await h.fetch_history()).to_json())


@workflow.defn(name="Case")
class CaseThatWaitsFirst(CaseWorkflow):
    """A deliberately changed Case: it sleeps a second before intake. Its history must fail replay."""

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: CaseInput) -> ClosureRecord:
        await workflow.sleep(1)
        return await super().run(inp)


async def changed(env: WorkflowEnvironment, client: Client) -> None:
    queue = f"{TASK_QUEUE}-changed"
    engine = engine_for(f"sqlite:///{HERE.parent / '.record.db'}")
    acts = CaseActivities(engine=engine, notifier=Notifier(engine))
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[CaseThatWaitsFirst],
        activities=[acts.open_case, acts.plan_deadlines, acts.record],
        activity_executor=ThreadPoolExecutor(max_workers=2),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        h = await start_case(client, f"rec-{uuid.uuid4().hex[:8]}", task_queue=queue, snapshot=True)
        await env.sleep(timedelta(seconds=5))
        await h.terminate("recorded")
    (HERE / "changed_case_waits_first.json").write_text((await h.fetch_history()).to_json())


STORIES: dict[str, Callable[[WorkflowEnvironment, Client], Awaitable[None]]] = {
    "reopened": reopened,
    "escalated": escalated,
    "whistled": whistled,
    "absent_released": absent_released,
    "merged": merged,
    "returned": returned,
    "struck_off": struck_off,
    "supervisor_queue": supervisor_queue,
    "reopen_cap": reopen_cap,
    "continued": continued,
    "late_and_lapsed": late_and_lapsed,
    "changed": changed,
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
