"""吹哨报到: departments report in time (or late, and it is recorded), 事不完、人不撤, then 双考核."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.case import Outcome, Status
from models.inputs import (
    ContactAction,
    EscalateAction,
    RateAction,
    RateDepartmentsAction,
    ReleaseAction,
    ReplyAction,
    ReportAction,
    SignAction,
    WhistleAction,
)
from models.payloads import DepartmentRating
from models.policy import WhistleKind
from models.timeline import DeadlineKind, EventKind
from tests.helpers import (
    channel,
    kinds,
    missed,
    ready,
    sent,
    sleep_past,
    start_case,
    timeline,
    unit,
    until,
    whistled_at_street,
)
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

STREET = unit("street-a")
ENFORCE, HOUSING = unit("dept-enforcement"), unit("dept-housing")


async def test_whistle_with_one_late_report(env: WorkflowEnvironment, client: Client, ticket: str) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.hard, ["dept-enforcement", "dept-housing"])

    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=ENFORCE))
    await env.sleep(timedelta(hours=2))  # past the 1-hour 报到 limit
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=HOUSING))
    for dept in (ENFORCE, HOUSING):
        await w.execute_update(WhistleWorkflow.contact, ContactAction(actor=dept, note="已与街道对接"))

    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=STREET, result="已拆除"))
    assert "事不完、人不撤" in str(err.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await w.execute_update(
            WhistleWorkflow.release, ReleaseAction(actor=ENFORCE, department="dept-enforcement", note="自己撤离")
        )
    for d in ("dept-enforcement", "dept-housing"):
        await w.execute_update(WhistleWorkflow.release, ReleaseAction(actor=STREET, department=d, note="任务完成"))
    ratings = [
        DepartmentRating(department="dept-enforcement", speed=5, cooperation=5, result=4),
        DepartmentRating(department="dept-housing", speed=2, cooperation=4, result=4),
    ]
    wv = await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=STREET, ratings=ratings))
    assert wv.done
    late = {d.unit_id: d.late_report for d in wv.departments}
    assert late == {"dept-enforcement": False, "dept-housing": True}
    result = await w.result()
    assert [d.rating.speed for d in result.departments if d.rating] == [5, 2]

    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=STREET, result="违建已拆除"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    assert (await h.result()).outcome is Outcome.rated

    events = await timeline(h)
    reports = {e.unit_id: e.deadline.met for e in events if e.kind is EventKind.report and e.deadline}
    assert reports == {"dept-enforcement": True, "dept-housing": False}
    late_events = [
        e for e in events if e.kind is EventKind.overdue and e.deadline and e.deadline.kind is DeadlineKind.report
    ]
    assert [e.unit_id for e in late_events] == ["dept-housing"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "one ordered timeline"
    assert EventKind.whistle_closed in [e.kind for e in events]


async def test_only_community_or_street_whistles_and_only_departments_are_summoned(client: Client, ticket: str) -> None:
    h = await start_case(client, ticket, category="illegal_construction")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            CaseWorkflow.whistle,
            WhistleAction(
                actor=unit("grid-a1-1"), kind=WhistleKind.ordinary, departments=["dept-police"], reason="网格吹哨"
            ),
        )
    assert getattr(err.value.cause, "type", None) == "WrongTier"


async def signed_at_community(client: Client, ticket: str) -> WorkflowHandle[CaseWorkflow, Any]:
    """An illegal-construction case the grid escalated and its community signed: the community may whistle."""
    h = await start_case(client, ticket, category="illegal_construction")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=unit("grid-a1-1"), reason="需社区协调"))
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("comm-a1")))
    return h


async def test_a_whistle_brings_the_departments_the_case_does_not_carry(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await signed_at_community(client, ticket)
    before = await h.query(CaseWorkflow.view)
    call = WhistleAction(
        actor=unit("comm-a1"), kind=WhistleKind.ordinary, departments=["dept-police"], reason="夜间施工"
    )
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(CaseWorkflow.whistle, call)  # sent without the department's unit
    assert getattr(err.value.cause, "type", None) == "UnknownUnit"
    assert await h.query(CaseWorkflow.view) == before

    view = await h.execute_update(CaseWorkflow.whistle, sent(call))
    assert view.whistles[0].departments == ["dept-police"]
    assert "区公安分局" in (await timeline(h))[-1].text


async def test_withdrawn_case_takes_its_whistle_down(env: WorkflowEnvironment, client: Client, ticket: str) -> None:
    from temporalio.client import WorkflowExecutionStatus

    from models.inputs import WithdrawAction

    h = await signed_at_community(client, ticket)
    view = await h.execute_update(
        CaseWorkflow.whistle,
        sent(
            WhistleAction(
                actor=unit("comm-a1"), kind=WhistleKind.emergency, departments=["dept-police"], reason="噪声扰民"
            )
        ),
    )
    await h.execute_update(CaseWorkflow.withdraw, WithdrawAction(actor=channel(), reason="已协商解决"))
    assert (await h.result()).outcome is Outcome.withdrawn
    w = client.get_workflow_handle(view.whistles[0].workflow_id)
    for _ in range(100):
        if (await w.describe()).status is WorkflowExecutionStatus.CANCELED:
            break
        await env.sleep(timedelta(seconds=1))
    assert (await w.describe()).status is WorkflowExecutionStatus.CANCELED


async def signals_to_the_case(h: WorkflowHandle[CaseWorkflow, Any], at_least: int) -> list[str]:
    """The signals the case has received, once there are `at_least` (a signal the whistle sent as it answered
    reaches the case a moment later)."""
    for _ in range(100):
        history = await h.fetch_history()
        names = [
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        if len(names) >= at_least:
            return names
        await asyncio.sleep(0.05)
    return names


async def test_what_one_whistle_task_tells_reaches_the_case_in_one_signal(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.hard, ["dept-enforcement", "dept-housing"])
    await env.sleep(timedelta(hours=2))  # neither reports: both are urged, then both miss 报到, together
    events = await timeline(h)
    missed = [e for e in events if e.deadline and e.deadline.kind is DeadlineKind.report]
    assert [(e.kind, e.unit_id) for e in missed] == [
        (EventKind.urge, "dept-enforcement"),
        (EventKind.urge, "dept-housing"),
        (EventKind.overdue, "dept-enforcement"),
        (EventKind.overdue, "dept-housing"),
    ]
    assert await signals_to_the_case(h, 2) == ["whistle_notes"] * 2  # the urge point, the miss point

    for dept in (ENFORCE, HOUSING):
        await w.execute_update(WhistleWorkflow.report, ReportAction(actor=dept))
        await w.execute_update(
            WhistleWorkflow.release, ReleaseAction(actor=STREET, department=dept.unit_id or "", note="完成")
        )
    ratings = [
        DepartmentRating(department=d, speed=3, cooperation=3, result=3) for d in ("dept-enforcement", "dept-housing")
    ]
    await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=STREET, ratings=ratings))
    # The rating and the whistle's end in one signal, handled before the whistler's next request.
    assert await signals_to_the_case(h, 7) == ["whistle_notes"] * 7
    assert kinds(await timeline(h))[-2:] == [EventKind.rate_departments, EventKind.whistle_closed]
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=STREET, result="违建已拆除"))


async def test_a_street_whose_slice_runs_out_during_its_whistle_keeps_the_case(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    # The whistler stays the lead (DOMAIN.md, 吹哨): its miss is charged, and the case stays to be finished with the
    # departments it summoned; the supervisor's queue is for a street that neither whistled nor replied.
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.hard, ["dept-enforcement"])
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=ENFORCE))
    await sleep_past(env, h, DeadlineKind.tier)
    events = await timeline(h)
    assert missed(events, DeadlineKind.tier) == ["street-a"]
    assert EventKind.to_supervisor not in kinds(events)
    view = await h.query(CaseWorkflow.view)
    assert view.holder == "street-a" and view.status is Status.handling

    await w.execute_update(
        WhistleWorkflow.release, ReleaseAction(actor=STREET, department="dept-enforcement", note="违建已拆除")
    )
    rating = DepartmentRating(department="dept-enforcement", speed=4, cooperation=4, result=4)
    await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=STREET, ratings=[rating]))

    async def may_reply() -> bool:  # once the whistle's end has reached the case
        return "reply" in await h.query(CaseWorkflow.available_actions, STREET)

    await until(may_reply, timeout=10)
    replied = await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=STREET, result="违建已拆除"))
    assert replied.status is Status.replied and replied.holder == "street-a"


async def test_a_community_whose_slice_runs_out_during_its_whistle_is_not_escalated(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await signed_at_community(client, ticket)
    call = WhistleAction(actor=unit("comm-a1"), kind=WhistleKind.hard, departments=["dept-police"], reason="夜间施工")
    await h.execute_update(CaseWorkflow.whistle, sent(call))
    await sleep_past(env, h, DeadlineKind.tier)
    events = await timeline(h)
    assert missed(events, DeadlineKind.tier) == ["comm-a1"]
    assert EventKind.auto_escalate not in kinds(events)
    assert (await h.query(CaseWorkflow.view)).holder == "comm-a1"


async def test_a_whistles_refusals_name_its_units_in_chinese(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    """A refusal reads as the whistle's timeline does: the units by name, never by their ids."""
    _, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=ENFORCE))

    async def refusal(update: Any, action: Any) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await w.execute_update(update, action)
        return str(err.value.cause)

    assert "东华门街道" in await refusal(
        WhistleWorkflow.release, ReleaseAction(actor=ENFORCE, department="dept-enforcement", note="自己撤离")
    )
    not_reported = await refusal(
        WhistleWorkflow.release, ReleaseAction(actor=STREET, department="dept-housing", note="任务完成")
    )
    assert "区住房和城乡建设委员会尚未报到" in not_reported
    await w.execute_update(
        WhistleWorkflow.release, ReleaseAction(actor=STREET, department="dept-enforcement", note="任务完成")
    )
    ratings = [
        DepartmentRating(department=d, speed=5, cooperation=5, result=5) for d in ("dept-enforcement", "dept-housing")
    ]
    waiting = await refusal(WhistleWorkflow.rate, RateDepartmentsAction(actor=STREET, ratings=ratings))
    assert "区住房和城乡建设委员会尚未确认撤离" in waiting
    for text in (not_reported, waiting):
        assert "dept-" not in text and "street-" not in text


async def test_a_department_still_overdue_after_its_supervision_is_noticed_in_a_plain_sentence(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement"])
    await env.sleep(timedelta(days=12))  # past 报到, 对接 and 完成, and 5 working days past each miss
    notices = [e.text for e in await timeline(h) if e.kind is EventKind.public_notice and e.unit_id == ENFORCE.unit_id]
    assert notices == [
        "通报：区城市管理综合行政执法局超过报到时限，督办后仍超期",
        "通报：区城市管理综合行政执法局超过对接时限，督办后仍超期",
        "通报：区城市管理综合行政执法局超过完成时限，督办后仍超期",
    ]


async def test_a_department_that_never_reports_is_released_once_its_report_limit_is_missed(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    """事不完、人不撤 keeps the departments that came; one that never came does not hold its case forever."""
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=ENFORCE))
    absent = ReleaseAction(actor=STREET, department="dept-housing", note="未到场，由执法局完成")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await w.execute_update(WhistleWorkflow.release, absent)  # it still has time to report
    assert "报到时限届满前" in str(err.value.cause)

    await env.sleep(timedelta(hours=2))  # past the 1-hour 报到 limit
    await w.execute_update(WhistleWorkflow.release, absent)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await w.execute_update(WhistleWorkflow.report, ReportAction(actor=HOUSING))  # too late: it was let go
    assert "已解除召集" in str(err.value.cause)
    await w.execute_update(
        WhistleWorkflow.release, ReleaseAction(actor=STREET, department="dept-enforcement", note="违建已拆除")
    )
    ratings = [
        DepartmentRating(department="dept-enforcement", speed=5, cooperation=5, result=5),
        DepartmentRating(department="dept-housing", speed=1, cooperation=1, result=1),
    ]
    done = await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=STREET, ratings=ratings))
    assert done.done
    housing = {d.kind: d for d in done.deadlines if d.unit_id == "dept-housing"}
    assert housing[DeadlineKind.report].missed and not housing[DeadlineKind.report].cancelled
    assert housing[DeadlineKind.contact].cancelled and housing[DeadlineKind.finish].cancelled

    async def may_reply() -> bool:
        return "reply" in await h.query(CaseWorkflow.available_actions, STREET)

    await until(may_reply, timeout=10)
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=STREET, result="违建已拆除"))
    await env.sleep(timedelta(days=12))  # no 督办 or 通报 of the released department after its release
    events = await timeline(h)
    released = [e.text for e in events if e.kind is EventKind.release and e.unit_id == "dept-housing"]
    assert released == ["东华门街道确认区住房和城乡建设委员会未报到，解除召集：未到场，由执法局完成"]
    housing_points = [e.kind for e in events if e.unit_id == "dept-housing" and e.deadline is not None]
    assert housing_points == [EventKind.urge, EventKind.overdue]  # its 报到, urged and missed; nothing after


async def test_a_released_department_has_nothing_left_to_contact(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=ENFORCE))
    await w.execute_update(
        WhistleWorkflow.release, ReleaseAction(actor=STREET, department="dept-enforcement", note="现场已处置")
    )
    assert "contact" not in await w.query(WhistleWorkflow.available_actions, ENFORCE)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await w.execute_update(WhistleWorkflow.contact, ContactAction(actor=ENFORCE, note="补充对接"))
    assert "已确认撤离" in str(err.value.cause)
    assert EventKind.contact not in kinds(await timeline(h))


async def test_the_closure_record_keeps_each_summoned_departments_limits(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    """销号 keeps every deadline met or missed and who was charged: the departments' 报到, 对接 and 完成 too."""
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=ENFORCE))
    await w.execute_update(WhistleWorkflow.contact, ContactAction(actor=ENFORCE, note="已与街道对接"))
    await env.sleep(timedelta(hours=2))  # dept-housing misses its 1-hour 报到 limit, then reports
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=HOUSING))
    for d in ("dept-enforcement", "dept-housing"):
        await w.execute_update(WhistleWorkflow.release, ReleaseAction(actor=STREET, department=d, note="任务完成"))
    ratings = [
        DepartmentRating(department=d, speed=4, cooperation=4, result=4) for d in ("dept-enforcement", "dept-housing")
    ]
    await w.execute_update(WhistleWorkflow.rate, RateDepartmentsAction(actor=STREET, ratings=ratings))

    async def may_reply() -> bool:
        return "reply" in await h.query(CaseWorkflow.available_actions, STREET)

    await until(may_reply, timeout=10)
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=STREET, result="违建已拆除"))
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    record = await h.result()
    summoned = {(d.unit_id, d.kind): (d.met, d.missed_by) for d in record.deadlines if d.unit_id.startswith("dept-")}
    assert summoned == {
        ("dept-enforcement", DeadlineKind.report): (True, None),
        ("dept-enforcement", DeadlineKind.contact): (True, None),
        ("dept-enforcement", DeadlineKind.finish): (True, None),
        ("dept-housing", DeadlineKind.report): (False, "dept-housing"),
        ("dept-housing", DeadlineKind.contact): (None, None),  # released before it contacted: owed no more
        ("dept-housing", DeadlineKind.finish): (True, None),
    }


async def test_a_department_released_without_its_contact_has_not_met_its_contact_limit(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    """The whistler's release ends a 对接 never made: the limit is neither met nor missed, as in the closure record."""
    _, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement", "dept-housing"])
    for dept in (ENFORCE, HOUSING):
        await w.execute_update(WhistleWorkflow.report, ReportAction(actor=dept))
    await w.execute_update(WhistleWorkflow.contact, ContactAction(actor=ENFORCE, note="已到现场"))
    for unit_id in ("dept-enforcement", "dept-housing"):
        done = ReleaseAction(actor=STREET, department=unit_id, note="已完成")
        await w.execute_update(WhistleWorkflow.release, done)
    contact = {
        d.unit_id: d.met for d in (await w.query(WhistleWorkflow.view)).deadlines if d.kind is DeadlineKind.contact
    }
    assert contact == {"dept-enforcement": True, "dept-housing": None}
