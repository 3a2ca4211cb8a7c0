"""Who is charged (DOMAIN.md, "Who is charged, and how figures count"): the whole-case 办结 limit follows the
case, each tier's slice is its tier's, a unit is never charged with a slice it could not meet, the rating
window is the resident's, and a case whose street ran out of time goes to the supervisor."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.case import Outcome, Status
from models.inputs import CloseAction, EscalateAction, ExtendAction, RedispatchAction, ReplyAction, SignAction
from models.policy import Limit, LimitUnit
from models.tables import NotificationRow
from models.timeline import DeadlineKind, EventKind
from policy import POLICY_DIR
from tests.helpers import missed, ready, sleep_past, start_case, supervisor, timeline, unit
from workflows.case import CaseWorkflow

GRID, COMM, STREET = unit("grid-a1-1"), unit("comm-a1"), unit("street-a")
SUPERVISOR = "supervisor-12345"


def notices(engine: Engine, case_id: str) -> list[NotificationRow]:
    with Session(engine) as s:
        return list(s.exec(select(NotificationRow).where(NotificationRow.case_id == case_id)).all())


async def climbed_by_hand(client: Client, ticket: str, category: str) -> WorkflowHandle[CaseWorkflow, Any]:
    h = await start_case(client, ticket, category=category)
    await ready(h)
    for who in (GRID, COMM):
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=who))
        await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=who, reason="需上级协调处置"))
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=STREET))
    return h


async def test_the_reply_limit_follows_the_case_to_the_street(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    # 暴露垃圾: 4 working hours for the whole case; grid and community pass it on at once, the street holds it.
    h = await climbed_by_hand(client, ticket, "exposed_rubbish")
    await sleep_past(env, h, DeadlineKind.reply)
    events = await timeline(h)
    assert missed(events, DeadlineKind.reply) == ["street-a"]
    supervised = [e for e in events if e.kind is EventKind.supervise and "办结时限" in e.text]
    assert [e.unit_id for e in supervised] == ["street-a"]
    told = {(n.recipient, n.text) for n in notices(engine, h.id) if "办结时限" in n.text}
    assert any(to == "street-a" and "【督办】" in text for to, text in told), told
    assert not any(to in ("grid-a1-1", "comm-a1") for to, _ in told), told
    urged = [e for e in events if e.kind is EventKind.urge and e.deadline and e.deadline.kind is DeadlineKind.reply]
    assert [e.unit_id for e in urged] == ["street-a"], "the 80% 催办 goes to whoever holds the case then"
    record_deadline = next(d for d in (await h.query(CaseWorkflow.view)).deadlines if d.kind is DeadlineKind.reply)
    assert record_deadline.unit_id == "street-a" and record_deadline.missed


async def test_a_unit_is_never_charged_with_a_slice_it_could_not_meet(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    # The grid keeps a 4-working-hour case past its whole-case limit, then passes it on.
    h = await start_case(client, ticket, category="exposed_rubbish")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    await sleep_past(env, h, DeadlineKind.reply)
    assert missed(await timeline(h), DeadlineKind.reply) == ["grid-a1-1"]
    view = await h.query(CaseWorkflow.view)
    if view.holder == "grid-a1-1":
        await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=GRID, reason="需社区协调"))
    await env.sleep(timedelta(minutes=5))
    view = await h.query(CaseWorkflow.view)
    for d in view.deadlines:
        if d.kind is DeadlineKind.tier and d.unit_id != "grid-a1-1":
            assert d.due_at - d.started_at >= timedelta(hours=1), f"{d.unit_id} got a slice it could not meet: {d}"
            assert not d.missed, f"{d.unit_id} was charged on arrival"
    assert not [u for u in missed(await timeline(h), DeadlineKind.tier) if u != "grid-a1-1"]


async def test_an_unrated_case_charges_nobody(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h = await start_case(client, ticket)
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=GRID))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=GRID, result="已清运"))
    await env.sleep(timedelta(days=4))
    record = await h.result()
    assert record.outcome is Outcome.unrated
    events = await timeline(h)
    about_rating = [e for e in events if e.deadline and e.deadline.kind is DeadlineKind.rating]
    assert not [e for e in about_rating if e.kind in (EventKind.urge, EventKind.overdue, EventKind.public_notice)]
    after_reply = events[next(i for i, e in enumerate(events) if e.kind is EventKind.reply) + 1 :]
    assert not [e for e in after_reply if e.kind in (EventKind.supervise, EventKind.overdue)]
    rating = next(d for d in record.deadlines if d.kind is DeadlineKind.rating)
    assert rating.met is None and rating.unit_id == "reporter", "the window is the resident's, not a unit's"
    told = notices(engine, h.id)
    assert not [n for n in told if n.recipient == "grid-a1-1" and "评价" in n.text]
    assert [n for n in told if n.recipient.startswith("reporter:") and "评价" in n.text and "提醒" in n.text]


async def test_a_street_out_of_time_goes_to_the_supervisor_who_redispatches(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await climbed_by_hand(client, ticket, "street_vending")
    await sleep_past(env, h, DeadlineKind.tier)
    view = await h.query(CaseWorkflow.view)
    assert view.status is Status.to_redispatch and view.holder == SUPERVISOR
    assert view.status_label == "待督办改派"
    events = await timeline(h)
    assert missed(events, DeadlineKind.tier) == ["street-a"], "the street is charged with its miss"
    view = await h.execute_update(
        CaseWorkflow.redispatch, RedispatchAction(actor=supervisor(), to_unit="dept-enforcement", reason="改派执法局")
    )
    assert view.holder == "dept-enforcement" and view.status is Status.dispatched
    dept = unit("dept-enforcement")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=dept))
    view = await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=dept, result="已依法取缔"))
    assert view.status is Status.replied


async def test_the_supervisor_may_give_the_street_more_time_or_strike_the_case_off(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await climbed_by_hand(client, ticket, "street_vending")
    await sleep_past(env, h, DeadlineKind.tier)
    amount = Limit(amount=2, unit=LimitUnit.working_days)
    view = await h.execute_update(
        CaseWorkflow.extend, ExtendAction(actor=supervisor(), amount=amount, reason="再给两天")
    )
    assert view.holder == "street-a" and view.status is Status.handling
    tier = next(d for d in view.deadlines if d.kind is DeadlineKind.tier and d.closed_at is None)
    assert tier.unit_id == "street-a" and tier.due_at - tier.started_at >= timedelta(days=2)
    await sleep_past(env, h, DeadlineKind.tier)
    assert (await h.query(CaseWorkflow.view)).status is Status.to_redispatch
    await h.execute_update(CaseWorkflow.close, CloseAction(actor=supervisor(), reason="经核实属历史遗留，另行处置"))
    assert (await h.result()).outcome is Outcome.closed_by_supervisor


@pytest.fixture(scope="module")
def stay_at_street(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city that keeps a case at its street when the street's slice runs out."""
    folder: Path = tmp_path_factory.mktemp("stay-policy")
    for f in POLICY_DIR.glob("*.toml"):
        shutil.copy(f, folder / f.name)
    limits = (folder / "limits.toml").read_text()
    (folder / "limits.toml").write_text(limits.replace("[supervision]\n", '[supervision]\nafter_street = "stay"\n'))
    return folder


async def test_a_city_may_keep_the_case_at_the_street(
    env: WorkflowEnvironment, client: Client, ticket: str, stay_at_street: Path
) -> None:
    h = await start_case(client, ticket, category="street_vending", policy_dir=stay_at_street)
    await ready(h)
    for who in (GRID, COMM):
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=who))
        await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=who, reason="需上级协调处置"))
    await sleep_past(env, h, DeadlineKind.tier)
    view = await h.query(CaseWorkflow.view)
    assert view.holder == "street-a" and view.status is Status.dispatched
    assert missed(await timeline(h), DeadlineKind.tier) == ["street-a"]
