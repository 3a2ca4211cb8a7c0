from __future__ import annotations

from temporalio.client import Client

from models.case import (
    EventKind,
    Outcome,
    RateAction,
    ReplyAction,
    SignAction,
    Status,
)
from tests.helpers import channel, kinds, ready, start_case, timeline, unit
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
