"""What a case struck off tells: the resident how it ended (not "办理完毕" for a case nobody handled), and the units
still working on it (its holder, its assisting units, the departments of a whistle it takes down) that they may
stop."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.inputs import (
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
from models.policy import WhistleKind
from models.tables import NotificationRow
from tests.helpers import channel, ready, sent, start_case, supervisor, unit, whistled_at_street
from workflows.case import CaseWorkflow


def told(engine: Engine, case_id: str) -> list[tuple[str, str]]:
    with Session(engine) as s:
        rows = s.exec(
            select(NotificationRow).where(NotificationRow.case_id == case_id).order_by(NotificationRow.id)  # type: ignore[arg-type]
        ).all()
    return [(n.recipient.split(":")[0], n.text) for n in rows]


def resident(notices: list[tuple[str, str]]) -> list[str]:
    return [text for to, text in notices if to == "reporter"]


async def test_a_withdrawn_case_is_not_told_as_handled_and_its_units_may_stop(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket, category="street_vending")  # the grid leads, 城管执法 assists
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await h.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="已自行解决"))
    notices = told(engine, h.id)
    (last,) = resident(notices)
    assert "撤回" in last and "办理完毕" not in last, last
    for holder_or_helper in ("grid-a1-1", "dept-enforcement"):
        stop = [text for to, text in notices if to == holder_or_helper and "【销号】" in text]
        assert len(stop) == 1 and "撤回" in stop[0] and "无需继续办理" in stop[0], notices


async def test_a_rejected_case_tells_the_resident_once_with_its_reason(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.reject_case, RejectAction(actor=supervisor(), reason="不属于本区管辖"))
    notices = told(engine, h.id)
    (only,) = resident(notices)
    assert "不属于本区管辖" in only and "办理完毕" not in only, only
    assert any(to == "grid-a1-1" and "【销号】" in text and "不予受理" in text for to, text in notices), notices


async def test_a_merged_duplicate_tells_its_resident_where_it_went(client: Client, ticket: str, engine: Engine) -> None:
    target = await start_case(client, f"{ticket}-target", category="street_vending")
    duplicate = await start_case(client, f"{ticket}-dup", category="street_vending")
    await ready(target)
    await ready(duplicate)
    merge = MergeAction(actor=supervisor(), into_case_id=target.id, reason="同一地点同一问题")
    await duplicate.execute_update(CaseWorkflow.merge, merge)
    notices = told(engine, duplicate.id)
    (last,) = resident(notices)
    assert "重复诉求" in last and "办理完毕" not in last, last
    assert any(to == "grid-a1-1" and "【销号】" in text and "重复诉求" in text for to, text in notices), notices


async def test_a_withdrawn_case_tells_the_unit_asked_to_approve_its_return(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=unit("grid-a1-1"), reason="不属本网格"))
    await h.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="已自行解决"))
    notices = told(engine, h.id)
    assert any(to == "comm-a1" and "【销号】" in text for to, text in notices), notices


async def test_a_case_struck_off_tells_the_departments_of_the_whistle_it_takes_down(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h, _ = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    await h.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="已与施工方协商解决"))
    notices = told(engine, h.id)
    for department in ("dept-enforcement", "dept-housing", "street-a"):
        assert any(to == department and "【销号】" in text for to, text in notices), (department, notices)


async def replied_at_grid(client: Client, ticket: str) -> WorkflowHandle[CaseWorkflow, Any]:
    """A street-vending case its grid signed and replied to, waiting for the resident's rating."""
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    grid: Any = unit("grid-a1-1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=grid))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=grid, result="已劝离"))
    return h


async def test_a_rated_case_still_thanks_the_resident_for_a_handled_case(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await replied_at_grid(client, ticket)
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    notices = told(engine, h.id)
    assert "已办理完毕" in resident(notices)[-1]
    assert not any("【销号】" in text for _, text in notices), "the unit that replied closed it itself"


async def test_a_reopened_case_reaches_its_unit_as_a_reopen_not_a_new_work_order(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await replied_at_grid(client, ticket)
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="unsatisfied", solved=False))
    to_grid = [text for to, text in told(engine, h.id) if to == "grid-a1-1"]
    assert to_grid[0].startswith("【新工单】"), to_grid
    (reopen,) = to_grid[1:]
    assert reopen.startswith("【重办】") and "第1次重办" in reopen and "15个工作日" in reopen, reopen


async def test_a_case_the_supervisor_suspends_and_resumes_tells_its_holder_both_times(
    client: Client, ticket: str, engine: Engine
) -> None:
    """The holder's clocks stop and run again: it is told of each, with the limit it has again on resume."""
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await h.execute_update(CaseWorkflow.suspend, SuspendAction(actor=supervisor(), reason="冬季停工，开春后处置"))
    await h.execute_update(CaseWorkflow.resume, ResumeAction(actor=supervisor(), reason="已开春，恢复施工"))
    notices = told(engine, h.id)
    to_grid = [text for to, text in notices if to == "grid-a1-1"]
    assert any(t.startswith("【挂账】") and "冬季停工" in t for t in to_grid), to_grid
    (resumed,) = [t for t in to_grid if t.startswith("【恢复办理】")]
    assert "已开春" in resumed and "办结时限" in resumed, resumed
    assert any("恢复办理" in t for t in resident(notices)), notices


async def test_a_holder_that_suspends_its_own_case_is_not_told_of_it(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    grid = unit("grid-a1-1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=grid))
    await h.execute_update(CaseWorkflow.suspend, SuspendAction(actor=grid, reason="冬季停工，开春后处置"))
    await h.execute_update(CaseWorkflow.resume, ResumeAction(actor=grid, reason="已开春，恢复施工"))
    notices = told(engine, h.id)
    assert not [t for to, t in notices if to == "grid-a1-1" and ("【挂账】" in t or "【恢复办理】" in t)], notices
    assert any(to == "supervisor" and t.startswith("【恢复办理】") for to, t in notices), notices


async def test_a_unit_whose_return_is_approved_is_told_where_the_case_went(
    client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    grid = unit("grid-a1-1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=grid))
    await h.execute_update(CaseWorkflow.return_case, ReturnAction(actor=grid, reason="不属本网格"))
    decision = ReturnDecision(actor=unit("comm-a1"), approve=True, to_unit="grid-a1-2", reason="同意改派")
    await h.execute_update(CaseWorkflow.decide_return, sent(decision))
    to_grid = [text for to, text in told(engine, h.id) if to == "grid-a1-1"]
    assert any(t.startswith("【退单通过】") and "第二网格" in t for t in to_grid), to_grid


async def test_a_unit_the_supervisor_takes_a_case_from_is_told(client: Client, ticket: str, engine: Engine) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    move = RedispatchAction(actor=supervisor(), to_unit="dept-enforcement", reason="属执法事项，改派执法局")
    await h.execute_update(CaseWorkflow.redispatch, sent(move))
    to_grid = [text for to, text in told(engine, h.id) if to == "grid-a1-1"]
    assert any(t.startswith("【改派】") and "无需继续办理" in t for t in to_grid), to_grid


async def test_an_assisting_unit_is_told_who_leads(client: Client, ticket: str, engine: Engine) -> None:
    h = await start_case(client, ticket, category="street_vending")  # the grid leads, 城管执法 assists
    await ready(h)
    (assist,) = [text for to, text in told(engine, h.id) if to == "dept-enforcement"]
    assert assist.startswith("【协办】") and "多福巷社区第一网格牵头" in assist, assist
