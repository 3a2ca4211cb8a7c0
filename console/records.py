"""What the case page reads besides the API's own views: the case's facts, its whistles, and the actions the
workflow offers an actor.

Each is one small function, so that a change of where a thing is kept is a change in one place.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from console import accounts
from models.actions import ActionName
from models.case import CaseInput, CaseView
from models.inputs import Actor
from models.intake import Intake
from models.policy import Directory
from models.reads import WhistleRecord
from models.whistle import WhistleSummary
from services import queries
from services.intake import QUERY_TIMEOUT, case_handle, whistle_handle, within_query_time
from services.whistles import whistle_now
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

_INTAKES: OrderedDict[str, Intake] = OrderedDict()
_INTAKES_KEPT = 2000


async def intake_of(client: Client, case_id: str) -> Intake | None:
    """受理 as the channel handed it over (description, address, attachments): the input the case's workflow
    was started with, which a case carries through continue-as-new. It never changes, so it is kept."""
    if case_id in _INTAKES:
        _INTAKES.move_to_end(case_id)
        return _INTAKES[case_id]
    try:
        async for event in case_handle(client, case_id).fetch_history_events(page_size=1, rpc_timeout=QUERY_TIMEOUT):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            (inp,) = await client.data_converter.decode(payloads, [CaseInput])
            break
        else:
            return None
    except RPCError:
        return None
    intake: Intake = inp.intake
    _INTAKES[case_id] = intake
    if len(_INTAKES) > _INTAKES_KEPT:
        _INTAKES.popitem(last=False)
    return intake


@dataclass(frozen=True)
class WhistlePanel:
    summary: WhistleSummary
    record: WhistleRecord | None
    """As the read model has it, with the running whistle's own state over it; None until its first record."""
    actions: list[str]


async def whistles_of(
    session: Session, client: Client, view: CaseView, actor: Actor | None, directory: Directory
) -> list[WhistlePanel]:
    """Each whistle of the case: who was summoned, reported (in time or not), was released and rated, and what
    the actor may do on it now."""
    panels = []
    for w in view.whistles:
        record = await run_in_threadpool(queries.whistle, session, case_id=view.case_id, n=w.n, directory=directory)
        record = await whistle_now(client, record) if record is not None else None
        actions = await whistle_actions(client, w.workflow_id, actor) if actor and w.active else []
        panels.append(WhistlePanel(summary=w, record=record, actions=actions))
    return panels


async def case_actions(client: Client, case_id: str, actor: Actor) -> list[str]:
    """The actions the case would accept from the actor now, as the workflow's own checks say."""
    return await _offered(case_handle(client, case_id), CaseWorkflow.available_actions, actor)


async def whistle_actions(client: Client, workflow_id: str, actor: Actor) -> list[str]:
    return await _offered(whistle_handle(client, workflow_id), WhistleWorkflow.available_actions, actor)


async def _offered(handle: WorkflowHandle[Any, Any], query: Any, actor: Actor) -> list[str]:
    try:
        async with within_query_time():
            names: list[ActionName] = await handle.query(query, actor, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCError, TimeoutError):
        return []
    return [n.value for n in names]


@dataclass(frozen=True)
class Reveal:
    """One look at the reporter's contact, as the supervisor reads it: when, who (by name), from which unit."""

    at: datetime
    person: str
    login: str
    unit_id: str | None


def reveals_of(session: Session, case_id: str) -> list[Reveal]:
    rows = queries.reveals(session, case_id=case_id)
    # The audit keeps the actor as `Actor.label()` writes it: "unit/person", or the person alone.
    logins = [r.actor.removeprefix(f"{r.unit_id}/") if r.unit_id else r.actor for r in rows]
    known = accounts.names(session, set(logins))
    return [Reveal(r.at, known.get(login, login), login, r.unit_id) for r, login in zip(rows, logins, strict=True)]
