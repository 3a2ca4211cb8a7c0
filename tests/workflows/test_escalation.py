"""Deadlines as timers: 催办 before, automatic 上报 and 督办 when missed, 通报 after."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models import payloads as pl
from models import search
from models.case import Status
from models.inputs import SignAction
from models.timeline import DeadlineKind, EventKind
from tests.helpers import kinds, ready, search_attributes, start_case, timeline, unit
from workflows.case import CaseWorkflow


async def test_nobody_acts_case_climbs_every_tier_on_time_then_goes_to_the_supervisor(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    # street_vending: a general case with no limit of its own: grid 1, community 2, street 2 of 7 working days.
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await env.sleep(timedelta(days=30))
    view = await h.query(CaseWorkflow.view)
    events = await timeline(h)
    climbs = [e for e in events if e.kind is EventKind.auto_escalate]
    assert [e.unit_id for e in climbs] == ["grid-a1-1", "comm-a1"]
    assert [e.data for e in climbs] == [pl.Moved(to="comm-a1"), pl.Moved(to="street-a")]
    for e in climbs:
        # Escalated when the slice ran out, to the second, and recorded as that tier's miss.
        assert e.deadline is not None and e.deadline.kind is DeadlineKind.tier and e.deadline.met is False
        assert timedelta(0) <= e.at - e.deadline.due_at < timedelta(seconds=1)
    # The street's slice ran out too: the case waits in the supervisor's queue (待督办改派).
    assert view.holder == "supervisor-12345" and view.status is Status.to_redispatch and view.overdue
    assert [e.unit_id for e in events if e.kind is EventKind.to_supervisor] == ["supervisor-12345"]

    overdue = {(e.deadline.kind, e.unit_id) for e in events if e.kind is EventKind.overdue and e.deadline}
    assert {
        (DeadlineKind.sign, "grid-a1-1"),
        (DeadlineKind.tier, "grid-a1-1"),
        (DeadlineKind.tier, "street-a"),
    } <= overdue
    # The whole-case 办结 limit ran out while the supervisor held the case, and is charged there, not to the grid.
    assert (DeadlineKind.reply, "supervisor-12345") in overdue and (DeadlineKind.reply, "grid-a1-1") not in overdue
    assert EventKind.supervise in kinds(events)
    assert EventKind.public_notice in kinds(events), "still overdue 5 working days after 督办 → 通报"
    urges = [e for e in events if e.kind is EventKind.urge]
    assert urges and all(e.deadline and e.at < e.deadline.due_at for e in urges)

    attrs = await search_attributes(h)
    assert attrs[search.CASE_STATUS.name] == "to_redispatch"
    assert attrs[search.CASE_UNIT.name] == "supervisor-12345"
    assert attrs[search.CASE_TIER.name] == "district"
    assert attrs[search.CASE_OVERDUE.name] is True
    assert attrs[search.CASE_CATEGORY.name] == "street_vending"
    assert attrs[search.CASE_URGENCY.name] == "general"


async def test_sign_in_time_stops_the_sign_clock_but_not_the_slice(
    env: WorkflowEnvironment, client: Client, ticket: str
) -> None:
    h = await start_case(client, ticket, category="street_vending")
    await ready(h)
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    await env.sleep(timedelta(days=4))
    events = await timeline(h)
    sign = next(e for e in events if e.kind is EventKind.sign)
    assert sign.deadline is not None and sign.deadline.met is True
    assert not any(
        e.kind is EventKind.overdue and e.deadline and e.deadline.kind is DeadlineKind.sign and e.unit_id == "grid-a1-1"
        for e in events
    )
    assert any(e.kind is EventKind.auto_escalate for e in events), "signing does not stop the grid's slice"
