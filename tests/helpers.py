"""Story-telling helpers: actors, a case started as a channel would, and readers of its timeline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from models.inputs import ActionT, Actor, Role, with_units
from models.intake import Intake, Location, ReporterRef
from models.timeline import CaseEvent, DeadlineKind, EventKind
from policy import load_policy
from services.intake import start_workflow, wait_ready
from workflows.case import CaseWorkflow

TASK_QUEUE = "test-cases"
CHANNEL = "hotline12345"


def unit(unit_id: str, person: str = "staff-1") -> Actor:
    return Actor(role=Role.unit, id=person, unit_id=unit_id)


def channel(channel_id: str = CHANNEL) -> Actor:
    return Actor(role=Role.channel, id=channel_id)


def supervisor() -> Actor:
    return Actor(role=Role.supervisor, id="inspector-1", unit_id="supervisor-12345")


def intake(ticket: str, **overrides: Any) -> Intake:
    data: dict[str, Any] = {
        "channel": CHANNEL,
        "channel_ticket_id": ticket,
        "category": "exposed_rubbish",
        "title": "小区门口垃圾堆积",
        "description": "多福巷3号院门口垃圾三天没人清运",
        "location": Location(grid_id="grid-a1-1", address="多福巷3号院"),
        "reporter": ReporterRef(ref="rep-test", masked_phone="138****5678"),
        "reported_at": datetime.now(UTC),
    }
    data.update(overrides)
    return Intake(**data)


async def start_case(
    client: Client,
    ticket: str,
    *,
    task_queue: str = TASK_QUEUE,
    policy_dir: Path | None = None,
    snapshot: bool = True,
    **overrides: Any,
) -> WorkflowHandle[CaseWorkflow, Any]:
    """As the 受理 service starts a case: with the snapshot of the worker's policy (`policy_dir`), or, with
    `snapshot=False`, bare, so that the workflow takes it with its activity."""
    inp = intake(ticket, **overrides)
    if "reported_at" not in overrides:
        # The test server's clock runs ahead of the wall clock once time has been skipped.
        inp = inp.model_copy(update={"reported_at": await server_now(client)})
    return await start_workflow(client, task_queue, inp, policy=load_policy(policy_dir) if snapshot else None)


def sent(action: ActionT) -> ActionT:
    """An action as every sender sends it: with the chains of the units it names, from the shipped directory."""
    return with_units(action, load_policy().directory)


def missed(events: list[CaseEvent], kind: DeadlineKind) -> list[str | None]:
    """The units charged with a miss of `kind`, in the order the misses came."""
    return [e.unit_id for e in events if e.kind is EventKind.overdue and e.deadline and e.deadline.kind is kind]


async def sleep_past(env: WorkflowEnvironment, h: WorkflowHandle[CaseWorkflow, Any], kind: DeadlineKind) -> None:
    """Skip the test server's time to a minute past the case's open deadline of `kind`."""
    view = await h.query(CaseWorkflow.view)
    due = next(d.due_at for d in view.deadlines if d.kind is kind and d.closed_at is None)
    await env.sleep(due - await server_now(env.client) + timedelta(minutes=1))


async def server_now(client: Client) -> datetime:
    from google.protobuf.empty_pb2 import Empty

    resp = await client.test_service.get_current_time(Empty())
    return resp.time.ToDatetime().replace(tzinfo=UTC)


async def ready(handle: WorkflowHandle[CaseWorkflow, Any]) -> None:
    """Wait until intake and dispatch are done and recorded."""
    await wait_ready(handle)


async def timeline(handle: WorkflowHandle[CaseWorkflow, Any]) -> list[CaseEvent]:
    return await handle.query(CaseWorkflow.events)


def kinds(events: list[CaseEvent]) -> list[EventKind]:
    return [e.kind for e in events]


async def describe_raw(handle: WorkflowHandle[Any, Any]) -> Any:
    """The server's own description (the SDK's `describe` cannot decode the test server's datetimes)."""
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

    return await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default", execution=WorkflowExecution(workflow_id=handle.id))
    )


async def search_attributes(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """The case's search attributes as stored by the server (raw JSON payloads, datetimes left as text)."""
    import json

    desc = await describe_raw(handle)
    fields = desc.workflow_execution_info.search_attributes.indexed_fields
    out: dict[str, Any] = {}
    for k, v in fields.items():
        try:
            out[k] = json.loads(v.data)
        except ValueError:  # the test server keeps datetimes in its own encoding
            out[k] = v.data
    return out


def local_activities_in(history: WorkflowHistory) -> list[str]:
    """The local activities a workflow history recorded, in order."""
    import json

    names = []
    for e in history.events:
        marker = e.marker_recorded_event_attributes
        if e.HasField("marker_recorded_event_attributes") and marker.marker_name == "core_local_activity":
            names.append(json.loads(marker.details["data"].payloads[0].data)["activity_type"])
    return names


async def local_activities(handle: WorkflowHandle[Any, Any]) -> list[str]:
    return local_activities_in(await handle.fetch_history())


async def whistled_at_street(
    env: Any, client: Client, ticket: str, kind: Any, departments: list[str]
) -> tuple[WorkflowHandle[CaseWorkflow, Any], WorkflowHandle[Any, Any]]:
    """An illegal-construction case climbed grid → community → street by hand, whose street has whistled;
    returns the case and its whistle once the whistle's deadlines are planned."""
    from datetime import timedelta

    from models.inputs import EscalateAction, SignAction, WhistleAction
    from services.intake import whistle_handle
    from workflows.whistle import WhistleWorkflow

    h = await start_case(client, ticket, category="illegal_construction")
    await ready(h)
    for who in ("grid-a1-1", "comm-a1"):
        await h.execute_update(CaseWorkflow.sign, SignAction(actor=unit(who)))
        await h.execute_update(CaseWorkflow.escalate, EscalateAction(actor=unit(who), reason="需上级协调执法"))
    street = unit("street-a")
    await h.execute_update(CaseWorkflow.sign, SignAction(actor=street))
    view = await h.execute_update(
        CaseWorkflow.whistle,
        sent(WhistleAction(actor=street, kind=kind, departments=departments, reason="违建需联合执法")),
    )
    w = whistle_handle(client, view.whistles[0].workflow_id)
    while not (await w.query(WhistleWorkflow.view)).deadlines:
        await env.sleep(timedelta(seconds=1))
    return h, w


def stored_text(database_url: str) -> str:
    """Every row of every table of the read model, as text: what a reader of the database could see."""
    from sqlalchemy import MetaData, select

    from store.db import engine_for

    engine = engine_for(database_url)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(str(row) for table in tables.sorted_tables for row in conn.execute(select(table)))


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """The first truthy value `check` gives, asked every 0.1 s: for what follows an action a moment later (a
    read-model list after a whistle's step, a timer's escalation, a delivery)."""
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"not reached within {timeout} s"
        await asyncio.sleep(0.1)
    return value
