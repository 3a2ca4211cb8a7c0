"""What the case page reads besides the API's own views: the case's facts, its whistles, the actions the
workflow offers an actor, and the supervisors' records (notifications, reveals).

Each is one small function, so that a change of where a thing is kept is a change in one place.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from models.case import Actor, CaseInput, CaseView, Intake, WhistleSummary, WhistleView
from models.tables import NotificationRow, RevealAudit
from services.intake import case_handle, whistle_handle
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

QUERY_TIMEOUT = timedelta(seconds=5)
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
    _INTAKES[case_id] = inp.intake
    if len(_INTAKES) > _INTAKES_KEPT:
        _INTAKES.popitem(last=False)
    return inp.intake


@dataclass(frozen=True)
class WhistlePanel:
    summary: WhistleSummary
    view: WhistleView | None
    """None when the whistle cannot be read now (still starting, or Temporal busy)."""
    actions: list[str]


async def whistles_of(client: Client, view: CaseView, actor: Actor | None) -> list[WhistlePanel]:
    panels = []
    for w in view.whistles:
        handle = whistle_handle(client, w.workflow_id)
        try:
            wv: WhistleView | None = await handle.query(WhistleWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
        except (WorkflowQueryFailedError, RPCError):
            wv = None
        actions = await whistle_actions(client, w.workflow_id, actor) if actor and w.active else []
        panels.append(WhistlePanel(summary=w, view=wv, actions=actions))
    return panels


async def case_actions(client: Client, case_id: str, actor: Actor) -> list[str]:
    """The actions the case would accept from the actor now, as the workflow's own checks say."""
    try:
        names = await case_handle(client, case_id).query(
            CaseWorkflow.available_actions, actor, rpc_timeout=QUERY_TIMEOUT
        )
    except (WorkflowQueryFailedError, RPCError):
        return []
    return [n.value for n in names]


async def whistle_actions(client: Client, workflow_id: str, actor: Actor) -> list[str]:
    try:
        names = await whistle_handle(client, workflow_id).query(
            WhistleWorkflow.available_actions, actor, rpc_timeout=QUERY_TIMEOUT
        )
    except (WorkflowQueryFailedError, RPCError):
        return []
    return [n.value for n in names]


@dataclass(frozen=True)
class Notification:
    recipient: str
    text: str
    created_at: datetime
    delivered_at: datetime | None


def notifications_for(session: Session, case_id: str) -> list[Notification]:
    """The messages a case sent (to whom, what, when, delivered or not)."""
    rows = session.exec(
        select(NotificationRow)
        .where(NotificationRow.case_id == case_id)
        .order_by(col(NotificationRow.seq), col(NotificationRow.idx))
    ).all()
    return [Notification(r.recipient, r.text, r.created_at, r.delivered_at) for r in rows]


def reveals_for(session: Session, case_id: str) -> list[RevealAudit]:
    """Every time the reporter's name and phone were shown for this case."""
    return list(
        session.exec(select(RevealAudit).where(RevealAudit.case_id == case_id).order_by(col(RevealAudit.at))).all()
    )
