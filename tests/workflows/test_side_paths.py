"""Paths the other tests leave out: routing (兜底, lead and assisting), natural-hour limits, the supervisor's own
催办/督办, the 80% 催办 and the 通报 at their times, a whistle's contact and finish limits and 应急哨's 30 minutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models import payloads as pl
from models.inputs import ReportAction, SignAction, SuperviseAction, UrgeAction
from models.policy import Tier, Urgency, WhistleKind
from models.timeline import DeadlineKind, EventKind
from tests.helpers import ready, server_now, start_case, supervisor, timeline, unit, whistled_at_street
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow


async def deadline(h: WorkflowHandle[CaseWorkflow, Any], kind: DeadlineKind) -> Any:
    view = await h.query(CaseWorkflow.view)
    return next(d for d in view.deadlines if d.kind is kind and d.closed_at is None)


async def test_routing_fallback_and_lead_with_assisting_units(client: Client, ticket: str) -> None:
    other = await start_case(client, f"{ticket}-other", category="other")
    await ready(other)
    view = await other.query(CaseWorkflow.view)
    assert (view.holder, view.tier) == ("street-a", Tier.street), "unclear ownership goes to the street (兜底)"
    lift = await start_case(client, f"{ticket}-lift", category="lift_entrapment")
    await ready(lift)
    view = await lift.query(CaseWorkflow.view)
    assert (view.holder, view.tier) == ("firm-lift", Tier.department), "an asset goes to its owner (先属主)"
    dispatch = next(e for e in await timeline(lift) if e.kind is EventKind.dispatch)
    assert isinstance(dispatch.data, pl.Dispatch)
    assert dispatch.data.rule == "属主" and dispatch.data.assisting == ["dept-market"]
    rubbish = await start_case(client, f"{ticket}-rubbish", category="exposed_rubbish")
    await ready(rubbish)
    dispatch = next(e for e in await timeline(rubbish) if e.kind is EventKind.dispatch)
    # 先属地后属主: the grid leads, the owning department assists.
    assert dispatch.unit_id == "grid-a1-1" and isinstance(dispatch.data, pl.Dispatch)
    assert dispatch.data.assisting == ["dept-sanitation"]


async def test_an_emergency_runs_on_natural_minutes(env: WorkflowEnvironment, client: Client, ticket: str) -> None:
    # 电梯困人: 30 minutes for the whole case, on the clock whatever the day; sign within 30 minutes.
    h = await start_case(client, ticket, category="lift_entrapment")
    await ready(h)
    reply, sign = await deadline(h, DeadlineKind.reply), await deadline(h, DeadlineKind.sign)
    assert reply.due_at - reply.started_at == timedelta(minutes=30)
    assert sign.due_at - sign.started_at == timedelta(minutes=30)
    assert reply.urge_at - reply.started_at == timedelta(minutes=24)  # 催办 at 80%
    await env.sleep(reply.due_at - await server_now(client) + timedelta(seconds=1))
    events = await timeline(h)
    missed = [e for e in events if e.kind is EventKind.overdue and e.deadline and e.deadline.kind is DeadlineKind.reply]
    assert len(missed) == 1 and timedelta(0) <= missed[0].at - reply.due_at < timedelta(seconds=1)


async def test_the_80_percent_urge_and_the_public_notice_come_at_their_times(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    # The whole-case limit stays open while the case climbs (and waits for the supervisor): 催办 at 80% of its
    # working time, 超期 and 督办 when it runs out, 通报 five working days after that.
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    reply = await deadline(h, DeadlineKind.reply)
    assert reply.started_at < reply.urge_at < reply.due_at
    await env.sleep(reply.notice_at - await server_now(client) + timedelta(seconds=1))
    events = [e for e in await timeline(h) if e.deadline and e.deadline.kind is DeadlineKind.reply]
    urge = next(e for e in events if e.kind is EventKind.urge)
    miss = next(e for e in events if e.kind is EventKind.overdue)
    notice = next(e for e in events if e.kind is EventKind.public_notice)
    for event, at in ((urge, reply.urge_at), (miss, reply.due_at), (notice, reply.notice_at)):
        assert timedelta(0) <= event.at - at < timedelta(seconds=1), (event.kind, event.at, at)
    assert reply.notice_at - reply.due_at >= timedelta(days=5)  # five working days: a week of the calendar


async def test_the_supervisor_urges_and_supervises_by_hand(client: Client, ticket: str, engine: Any) -> None:
    from sqlmodel import Session, select

    from models.tables import NotificationRow

    h = await start_case(client, ticket)
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await h.execute_update(CaseWorkflow.urge, UrgeAction(actor=supervisor(), note="群众多次来电，请加快处置"))
    await h.execute_update(CaseWorkflow.supervise, SuperviseAction(actor=supervisor(), note="请今日内办结"))
    events = await timeline(h)
    by_hand = [e for e in events if e.kind in (EventKind.urge, EventKind.supervise) and e.actor != "system"]
    assert [(e.kind, e.unit_id) for e in by_hand] == [
        (EventKind.urge, "grid-a1-1"),
        (EventKind.supervise, "grid-a1-1"),
    ]
    with Session(engine) as s:
        told = s.exec(select(NotificationRow).where(NotificationRow.case_id == h.id)).all()
    assert any(n.recipient == "grid-a1-1" and "【催办】" in n.text and "加快处置" in n.text for n in told)
    assert any(n.recipient == "grid-a1-1" and "【督办】" in n.text and "今日内办结" in n.text for n in told)


async def test_a_whistle_holds_departments_to_contact_and_finish(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.ordinary, ["dept-enforcement"])
    dept = unit("dept-enforcement")
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=dept))
    view = await w.query(WhistleWorkflow.view)
    contact = next(d for d in view.deadlines if d.kind is DeadlineKind.contact)
    finish = next(d for d in view.deadlines if d.kind is DeadlineKind.finish)
    assert contact.due_at - contact.started_at == timedelta(hours=24)
    assert finish.due_at - finish.started_at >= timedelta(days=3)  # 3 working days
    await env.sleep(finish.due_at - await server_now(client) + timedelta(seconds=1))
    missed = {(e.deadline.kind, e.unit_id) for e in await timeline(h) if e.kind is EventKind.overdue and e.deadline}
    assert {(DeadlineKind.contact, "dept-enforcement"), (DeadlineKind.finish, "dept-enforcement")} <= missed


async def test_an_emergency_whistle_wants_its_departments_within_30_minutes(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.emergency, ["util-water"])
    view = await w.query(WhistleWorkflow.view)
    report = next(d for d in view.deadlines if d.kind is DeadlineKind.report)
    assert report.due_at - report.started_at == timedelta(minutes=30)
    await env.sleep(report.due_at - await server_now(client) + timedelta(seconds=1))
    late = {(e.deadline.kind, e.unit_id) for e in await timeline(h) if e.kind is EventKind.overdue and e.deadline}
    assert (DeadlineKind.report, "util-water") in late
    view = await w.execute_update(WhistleWorkflow.report, ReportAction(actor=unit("util-water")))
    assert view.departments[0].late_report


async def test_a_category_s_own_limit_holds_within_its_class_and_a_case_filed_in_another_class_takes_that_class_s(
    client: Client, ticket: str
) -> None:
    # 暴露垃圾 (一般, its own 4 working hours) filed as 紧急 is due in the emergency class's 2 hours, not in 4 working
    # hours; 电梯困人 (紧急, its own 30 minutes) filed as 一般 takes the general class's limits, so it is never due
    # before its own sign limit.
    rubbish = await start_case(client, f"{ticket}-r", category="exposed_rubbish", urgency=Urgency.emergency)
    lift = await start_case(client, f"{ticket}-l", category="lift_entrapment", urgency=Urgency.general)
    as_filed = await start_case(client, f"{ticket}-f", category="lift_entrapment")
    for h in (rubbish, lift, as_filed):
        await ready(h)
    reply, sign = await deadline(rubbish, DeadlineKind.reply), await deadline(rubbish, DeadlineKind.sign)
    assert reply.due_at - reply.started_at == timedelta(hours=2)
    reply, sign = await deadline(lift, DeadlineKind.reply), await deadline(lift, DeadlineKind.sign)
    assert reply.due_at > sign.due_at and reply.due_at - reply.started_at > timedelta(days=7)
    reply = await deadline(as_filed, DeadlineKind.reply)
    assert reply.due_at - reply.started_at == timedelta(minutes=30), "its own limit, in its own class"
