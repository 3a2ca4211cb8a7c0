from __future__ import annotations

import asyncio

from temporalio.client import Client

from models.case import Outcome, Status
from models.inputs import RateAction, ReplyAction, SignAction
from models.timeline import EventKind
from services.intake import case_handle
from tests.helpers import channel, kinds, local_activities, ready, start_case, timeline, unit
from workflows.case import CaseWorkflow


async def test_grid_signs_replies_and_resident_rates(client: Client, ticket: str) -> None:
    h = await start_case(client, ticket)
    await ready(h)
    view = await h.query(CaseWorkflow.view)
    assert view.status is Status.dispatched and view.holder == "grid-a1-1"

    view = await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit("grid-a1-1")))
    assert view.status is Status.handling
    view = await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=unit("grid-a1-1"), result="已清运"))
    assert view.status is Status.replied
    view = await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    assert view.status is Status.closed and view.outcome is Outcome.rated
    record = await h.result()
    assert record.outcome is Outcome.rated
    assert all(d.met for d in record.deadlines)
    ks = kinds(await timeline(h))
    assert ks[:2] == [EventKind.intake, EventKind.dispatch]
    assert ks[-3:] == [EventKind.reply, EventKind.rate, EventKind.close]
    # Started with the 受理 snapshot, it plans its deadlines on the calendar it carries: one activity per projection.
    assert await local_activities(h) == ["record", "record", "record", "record"]


async def test_case_started_without_a_snapshot_takes_it_and_is_dispatched_the_same(client: Client, ticket: str) -> None:
    with_snapshot = await start_case(client, f"{ticket}-s")
    bare = await start_case(client, f"{ticket}-b", snapshot=False)
    for h in (with_snapshot, bare):
        await ready(h)
    assert await local_activities(bare) == ["open_case", "record"]
    assert await local_activities(with_snapshot) == ["record"]
    a, b = [await h.query(CaseWorkflow.view) for h in (with_snapshot, bare)]
    assert a.status is Status.dispatched and a.holder == "grid-a1-1"
    assert (a.status, a.holder, a.tier, a.urgency, a.policy_version) == (
        b.status,
        b.holder,
        b.tier,
        b.urgency,
        b.policy_version,
    )
    assert [d.kind for d in a.deadlines] == [d.kind for d in b.deadlines]
    events = [[(e.kind, e.unit_id) for e in await timeline(h)] for h in (with_snapshot, bare)]
    assert events[0] == events[1] == [(EventKind.intake, None), (EventKind.dispatch, "grid-a1-1")]


async def test_long_case_continues_as_new_and_keeps_its_history(client: Client, ticket: str) -> None:
    from models.case import CaseInput
    from models.intake import case_id_for
    from tests.helpers import TASK_QUEUE, describe_raw, intake, server_now

    inp = intake(ticket, reported_at=await server_now(client))
    case_id = case_id_for(inp.channel, inp.channel_ticket_id)
    first = await client.start_workflow(
        CaseWorkflow.run,
        CaseInput(intake=inp, case_id=case_id, continue_after_events=4),
        id=case_id,
        task_queue=TASK_QUEUE,
    )
    h = case_handle(client, case_id)  # the latest run, whichever it is
    await ready(h)
    grid = unit("grid-a1-1")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=grid))
    await h.execute_update(CaseWorkflow.reply, ReplyAction(actor=grid, result="已清运"))
    # The fourth event (办结) makes the run continue as new; the resident then rates the new run.
    for _ in range(100):
        desc = await describe_raw(h)
        if desc.workflow_execution_info.execution.run_id != first.first_execution_run_id:
            break
        await asyncio.sleep(0.05)
    assert desc.workflow_execution_info.execution.run_id != first.first_execution_run_id, "more than one run"
    await h.execute_update(CaseWorkflow.rate, RateAction(actor=channel(), level="satisfied", solved=True))
    record = await h.result()
    assert record.outcome is Outcome.rated
    ks = kinds(await timeline(h))
    assert ks[0] is EventKind.intake and ks[-1] is EventKind.close
    assert [e.seq for e in await timeline(h)] == list(range(1, len(ks) + 1))


async def test_the_rule_set_comes_in_the_input_or_from_a_marker(client: Client, ticket: str) -> None:
    """The 受理 service names the rule set in the case's input, so its history needs no patch marker; a case
    started without it (by an older service) takes rule set 2 behind the marker, as cases did before."""
    from temporalio.api.enums.v1 import EventType

    from models.case import RULES_2026_12, CaseInput
    from models.intake import case_id_for
    from tests.helpers import TASK_QUEUE, intake, server_now
    from workflows.case_context import RULES_2026_12_PATCH

    named = await start_case(client, f"{ticket}-n")
    inp = intake(f"{ticket}-m", reported_at=await server_now(client))
    case_id = case_id_for(inp.channel, inp.channel_ticket_id)
    await client.start_workflow(
        CaseWorkflow.run, CaseInput(intake=inp, case_id=case_id), id=case_id, task_queue=TASK_QUEUE
    )
    unnamed = case_handle(client, case_id)
    patches = []
    for h in (named, unnamed):
        await ready(h)
        history = await h.fetch_history()
        markers = [
            e.marker_recorded_event_attributes
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        ]
        patches.append([m.details["patch-data"].payloads[0].data for m in markers if m.marker_name == "core_patch"])
        started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0].data
        assert (b'"rules":%d' % RULES_2026_12 in started) is (h is named)
    assert patches[0] == [] and len(patches[1]) == 1 and RULES_2026_12_PATCH.encode() in patches[1][0]
    a, b = [await h.query(CaseWorkflow.view) for h in (named, unnamed)]
    assert (a.status, a.holder, [d.kind for d in a.deadlines]) == (b.status, b.holder, [d.kind for d in b.deadlines])
