"""Every side path of the lifecycle, each as a resident or a unit would live it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from models import payloads as pl
from models.case import CaseView, Outcome, Status
from models.inputs import (
    CloseAction,
    EscalateAction,
    ExtensionDecision,
    ExtensionRequest,
    MergeAction,
    RateAction,
    RedispatchAction,
    RejectAction,
    ReplyAction,
    ResumeAction,
    ReturnAction,
    ReturnDecision,
    SignAction,
    SuspendAction,
    WithdrawAction,
)
from models.policy import Limit, LimitUnit, Tier
from models.timeline import DeadlineKind, EventKind
from tests.helpers import channel, kinds, ready, sent, start_case, supervisor, timeline, unit
from workflows.case import CaseWorkflow

GRID = unit("grid-a1-1")


def reply_due(view: CaseView) -> datetime:
    return next(d.due_at for d in view.deadlines if d.kind is DeadlineKind.reply and d.closed_at is None)


async def replied(client: Client, ticket: str, **kw: Any) -> WorkflowHandle[CaseWorkflow, Any]:
    h = await start_case(client, ticket, **kw)
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=GRID, result="已处理"))
    return h


async def test_duplicate_ticket_is_one_case(client: Client, ticket: str) -> None:
    first = await start_case(client, ticket)
    again = await start_case(client, ticket, title="同一工单再次推送")
    assert again.id == first.id and again.result_run_id == first.result_run_id
    await ready(first)
    await first.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="已自行解决"))
    await first.result()
    with pytest.raises(WorkflowAlreadyStartedError):
        await start_case(client, ticket)  # a struck-off case is never started again


async def test_unsatisfied_reopens_up_to_the_cap_then_goes_to_supervisor(client: Client, ticket: str, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from models.tables import CaseRow

    h = await replied(client, ticket)
    for n in (1, 2):
        view = await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="unsatisfied", solved=False))
        assert view.status is Status.dispatched and view.holder == "grid-a1-1" and view.reopen_count == n
        # 差评整改: a fresh 15-working-day limit for the unit that replied.
        due = reply_due(view)
        assert due - view.deadlines[-1].started_at >= timedelta(days=15)
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
        await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=GRID, result=f"第{n}次重办完成"))
    view = await h.execute_update(
        CaseWorkflow.rate, RateAction(actor=channel(), level="very_unsatisfied", solved=False)
    )
    # It counts the 重办 that happened: two, not the third 不满意 that went to the supervisor instead.
    assert view.status is Status.supervisor and view.holder == "supervisor-12345" and view.reopen_count == 2
    assert kinds(await timeline(h)).count(EventKind.reopen) == 2
    with Session(engine) as s:
        row = s.get(CaseRow, h.id)
        assert row is not None and row.reopen_count == 2
    await h.execute_update(
        CaseWorkflow.close, CloseAction(actor=supervisor(), reason="经核实已依法处理，群众诉求超出政策范围")
    )
    record = await h.result()
    assert record.outcome is Outcome.closed_by_supervisor and record.reopen_count == 2


async def test_no_rating_within_window_closes_as_unrated(env: WorkflowEnvironment, client: Client, ticket: str) -> None:
    h = await replied(client, ticket)
    await env.sleep(timedelta(days=2))
    assert (await h.query(CaseWorkflow.view)).status is Status.replied
    await env.sleep(timedelta(days=2))
    record = await h.result()
    assert record.outcome is Outcome.unrated and record.rating is None


async def test_return_approved_redispatches_refused_keeps(client: Client, ticket: str) -> None:
    h = await start_case(client, ticket)
    await ready(h)
    view = await h.execute_update(
        CaseWorkflow.return_case, ReturnAction(actor=GRID, reason="不属于本网格，位于相邻网格")
    )
    assert view.status is Status.return_pending and view.pending_return and view.pending_return.approver == "comm-a1"
    view = await h.execute_update(
        CaseWorkflow.decide_return, ReturnDecision(actor=unit("comm-a1"), approve=False, reason="经核实属本网格")
    )
    assert view.status is Status.dispatched and view.holder == "grid-a1-1"
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=GRID, reason="确属第二网格"))
    view = await h.execute_update(
        CaseWorkflow.decide_return,
        sent(ReturnDecision(actor=unit("comm-a1"), approve=True, to_unit="grid-a1-2", reason="同意改派")),
    )
    assert view.status is Status.dispatched and view.holder == "grid-a1-2"
    view = await h.execute_update(
        CaseWorkflow.redispatch,
        RedispatchAction(actor=supervisor(), to_unit="dept-sanitation", reason="由环卫直接处置"),
    )
    assert view.holder == "dept-sanitation" and view.tier is Tier.department
    ks = kinds(await timeline(h))
    assert [k for k in ks if k in (EventKind.return_refused, EventKind.return_approved, EventKind.redispatch)] == [
        EventKind.return_refused,
        EventKind.return_approved,
        EventKind.redispatch,
    ]


async def test_extension_moves_deadlines_and_tells_the_resident(client: Client, ticket: str, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session, select

    from models.tables import NotificationRow

    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=GRID, reason="需社区协调"))
    comm = unit("comm-a1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=comm))
    before = reply_due(await h.query(CaseWorkflow.view))
    amount = Limit(amount=3, unit=LimitUnit.working_days)
    view = await h.execute_update(
        CaseWorkflow.request_extension, ExtensionRequest(actor=comm, amount=amount, reason="需协调物业")
    )
    assert view.pending_extension and view.pending_extension.approver == "street-a"
    view = await h.execute_update(
        CaseWorkflow.decide_extension, ExtensionDecision(actor=unit("street-a"), approve=True, reason="同意")
    )
    assert view.pending_extension is None and reply_due(view) - before >= timedelta(days=3)
    await h.execute_update(CaseWorkflow.request_extension, ExtensionRequest(actor=comm, amount=amount, reason="再延"))
    view = await h.execute_update(
        CaseWorkflow.decide_extension, ExtensionDecision(actor=supervisor(), approve=False, reason="不予再延")
    )
    assert EventKind.extension_refused in kinds(await timeline(h))
    with Session(engine) as s:
        told = s.exec(select(NotificationRow).where(NotificationRow.case_id == h.id)).all()
    assert any(n.recipient.startswith("reporter:") and "延至" in n.text for n in told)


async def test_suspend_stops_the_clock(env: WorkflowEnvironment, client: Client, ticket: str) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    before = reply_due(await h.query(CaseWorkflow.view))
    await h.execute_update(CaseWorkflow.suspend, SuspendAction(actor=GRID, reason="需待冬季施工结束后处理"))
    await env.sleep(timedelta(days=20))
    events = await timeline(h)
    assert not any(e.kind is EventKind.auto_escalate for e in events), "a suspended case does not escalate"
    view = await h.execute_update(CaseWorkflow.resume, ResumeAction(actor=supervisor(), reason="施工结束"))
    assert view.status is Status.handling and reply_due(view) - before >= timedelta(days=20)


async def test_withdraw_merge_and_reject_strike_the_case_off(client: Client, ticket: str) -> None:
    target = await start_case(client, f"{ticket}-target")
    await ready(target)
    outcomes = []
    for n, act in enumerate(
        [
            (CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="问题已自行解决")),
            (CaseWorkflow.merge, MergeAction(actor=supervisor(), into_case_id=target.id, reason="重复诉求")),
            (CaseWorkflow.reject_case, RejectAction(actor=supervisor(), reason="属司法诉讼事项，不属受理范围")),
        ]
    ):
        h = await start_case(client, f"{ticket}-{n}")
        await ready(h)
        await h.execute_update(*act)  # type: ignore[call-overload]
        record = await h.result()
        outcomes.append(record.outcome)
        # Struck off before anyone signed: the open limits were neither met nor missed.
        assert {d.kind: d.met for d in record.deadlines if d.kind is not DeadlineKind.dispatch} == {
            DeadlineKind.reply: None,
            DeadlineKind.sign: None,
            DeadlineKind.tier: None,
        }
    assert outcomes == [Outcome.withdrawn, Outcome.merged, Outcome.rejected]


async def test_merge_tells_the_target_and_needs_one(client: Client, ticket: str) -> None:
    target = await start_case(client, f"{ticket}-target")
    duplicate = await start_case(client, f"{ticket}-dup")
    await ready(target)
    await ready(duplicate)
    # A target that does not exist refuses the merge, and the duplicate stays as it was.
    before = await duplicate.query(CaseWorkflow.view)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await duplicate.execute_update(
            CaseWorkflow.merge,
            MergeAction(actor=supervisor(), into_case_id="case-hotline12345-none", reason="重复", request_id="m-1"),
        )
    assert getattr(err.value.cause, "type", None) == "MergeTargetNotFound"
    assert await duplicate.query(CaseWorkflow.view) == before

    # The same request, corrected, is not taken for a duplicate of the refused one.
    await duplicate.execute_update(
        CaseWorkflow.merge,
        MergeAction(actor=supervisor(), into_case_id=target.id, reason="同一地点同一问题", request_id="m-1"),
    )
    assert (await duplicate.result()).outcome is Outcome.merged
    events = await timeline(target)
    merged = [e for e in events if e.kind is EventKind.merged_in]
    assert len(merged) == 1 and merged[0].data == pl.MergedFrom(duplicate=duplicate.id)
    assert duplicate.id in merged[0].text and "同一地点同一问题" in merged[0].text
    assert merged[0].unit_id == (await target.query(CaseWorkflow.view)).holder
    assert (await target.query(CaseWorkflow.view)).status is Status.dispatched  # the target goes on as it was


async def test_unknown_category_started_directly_is_rejected_not_stuck(client: Client, ticket: str) -> None:
    h = await start_case(client, ticket, snapshot=False, category="no_such_category")
    record = await h.result()
    assert record.outcome is Outcome.rejected


async def test_closed_case_result_is_final(client: Client, ticket: str) -> None:
    h = await replied(client, ticket)
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="very_satisfied", solved=True))
    record = await h.result()
    assert record.outcome is Outcome.rated and record.rating and record.rating.level == "very_satisfied"
    assert {u.unit_id for u in record.units} >= {"grid-a1-1"}
    with pytest.raises(Exception):  # noqa: B017 (the workflow is completed: no more updates)
        await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="unsatisfied", solved=False))


async def test_a_case_sent_to_another_street_climbs_that_street(client: Client, ticket: str) -> None:
    """The case carries only its own grid's chain; 改派 to a grid of another street brings that grid's, and the
    case then climbs it: 上报 goes to the new grid's community, and its name is in the timeline."""
    h = await start_case(client, ticket)
    await ready(h)
    view = await h.execute_update(
        CaseWorkflow.redispatch,
        sent(RedispatchAction(actor=supervisor(), to_unit="grid-b2-1", reason="位于黄化门社区")),
    )
    assert (view.holder, view.tier) == ("grid-b2-1", Tier.grid)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-b2-1")))
    view = await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=unit("grid-b2-1"), reason="需社区协调"))
    assert (view.holder, view.tier) == ("comm-b2", Tier.community)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("comm-b2")))
    view = await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=unit("comm-b2"), reason="需街道协调"))
    assert (view.holder, view.tier) == ("street-b", Tier.street)
    texts = " ".join(e.text for e in await timeline(h))
    assert "黄化门社区第一网格" in texts and "黄化门社区" in texts and "景山街道" in texts
