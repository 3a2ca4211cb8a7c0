"""A whistle's notices name their case: a whistler with several whistles running knows which one a 报到 or an
overdue department belongs to."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.inputs import ReportAction
from models.policy import WhistleKind
from models.tables import NotificationRow
from models.timeline import DeadlineKind, EventKind
from tests.helpers import server_now, timeline, unit, whistled_at_street
from tests.workflows.test_closure_notices import told
from workflows.whistle import WhistleWorkflow


async def test_every_whistle_notice_names_its_case(
    env: WorkflowEnvironment, client: Client, ticket: str, engine: Engine
) -> None:
    h, w = await whistled_at_street(env, client, ticket, WhistleKind.emergency, ["util-water"])
    view = await w.query(WhistleWorkflow.view)
    report = next(d for d in view.deadlines if d.kind is DeadlineKind.report)
    await env.sleep(report.due_at - await server_now(client) + timedelta(seconds=1))
    await w.execute_update(WhistleWorkflow.report, ReportAction(actor=unit("util-water")))

    async def reported() -> bool:
        return any(e.kind is EventKind.report for e in await timeline(h))

    while not await reported():
        await env.sleep(timedelta(seconds=1))
    with Session(engine) as s:
        rows = s.exec(select(NotificationRow).where(NotificationRow.case_id == h.id)).all()
    to_whistler = [n.text for n in rows if n.recipient == "street-a" and "【新工单】" not in n.text]
    assert any("【报到】" in t for t in to_whistler) and any("已超期" in t for t in to_whistler), to_whistler
    for text in [n.text for n in rows if not n.recipient.startswith("reporter:")]:
        assert h.id in text, (text, told(engine, h.id))
