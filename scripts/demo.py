"""The demo (`starter.py demo`): one 违法建设 case from 受理 through 上报, 吹哨报到 and 办结 to 销号, acted out
with the command line's own helpers, as a person at each desk would."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client

from config import settings
from models import inputs as m
from models.case import CaseView
from models.inputs import Actor, Role
from models.payloads import DepartmentRating
from models.policy import WhistleKind
from models.whistle import WhistleView
from policy import load_policy
from scripts.terminal import print_timeline
from services.intake import CaseHandle, open_case, whistle_handle
from starter import parse_intake, poll, ready, send
from store.vault import ReporterVault
from temporal_client import ui_url
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

DEMO_CHANNEL = "hotline12345"
DEMO_REPORTER = ("王秀兰", "13800138000")
DEMO_DEPARTMENTS = ["dept-enforcement", "dept-housing"]


def staff(unit_id: str) -> Actor:
    return Actor(role=Role.unit, id="staff-1", unit_id=unit_id)


def step(text: str, view: CaseView | None = None) -> None:
    print(f"▶ {text}" + (f"（{view.status_label}，承办：{view.holder}）" if view else ""))


async def demo_climb(h: CaseHandle) -> None:
    """网格上报社区；社区签收后上报街道；街道签收。"""
    up = m.EscalateAction(actor=staff("grid-a1-1"), reason="违建须执法，网格无力处置")
    step("网格上报社区", await send(h, "escalate", up, CaseView))
    await send(h, "sign", m.SignAction(actor=staff("comm-a1")), CaseView)
    up = m.EscalateAction(actor=staff("comm-a1"), reason="须街道召集执法部门")
    step("社区签收并上报街道", await send(h, "escalate", up, CaseView))
    step("街道签收", await send(h, "sign", m.SignAction(actor=staff("street-a")), CaseView))


async def demo_whistle(client: Client, h: CaseHandle) -> None:
    """街道吹哨；两部门报到、对接；街道确认撤离并评价；等吹哨完结回到诉求。"""
    street = staff("street-a")
    call = m.WhistleAction(actor=street, kind=WhistleKind.hard, departments=DEMO_DEPARTMENTS, reason="联合拆违")
    view = await send(h, "whistle", call, CaseView)
    step(f"街道吹哨（攻坚哨）召集{'、'.join(DEMO_DEPARTMENTS)}", view)
    w = whistle_handle(client, view.whistles[-1].workflow_id)
    await poll(lambda: w.query(WhistleWorkflow.view), lambda v: bool(v.deadlines), "吹哨启动")
    for dept in DEMO_DEPARTMENTS:
        await send(w, "report", m.ReportAction(actor=staff(dept)), WhistleView)
        await send(w, "contact", m.ContactAction(actor=staff(dept), note="已到现场，制定拆除方案"), WhistleView)
        step(f"{dept}报到并与街道对接")
    for dept in DEMO_DEPARTMENTS:
        await send(w, "release", m.ReleaseAction(actor=street, department=dept, note="违建已拆除"), WhistleView)
    ratings = [DepartmentRating(department=d, speed=5, cooperation=5, result=4) for d in DEMO_DEPARTMENTS]
    await send(w, "rate", m.RateDepartmentsAction(actor=street, ratings=ratings), WhistleView)
    await poll(lambda: h.query(CaseWorkflow.view), lambda v: not any(x.active for x in v.whistles), "吹哨完结")
    step("街道确认两部门撤离并评价，吹哨完结")


async def run_demo(client: Client, task_queue: str, vault: ReporterVault, *, now: datetime | None = None) -> str:
    """One case through the whole path; returns its id. `now`: the server's clock, when it is not the wall's."""
    intake, reporter = parse_intake({
        "channel": DEMO_CHANNEL, "channel_ticket_id": f"demo-{datetime.now(UTC):%Y%m%d%H%M%S%f}",
        "category": "illegal_construction", "title": "院内私搭乱建",
        "description": "多福巷5号院内有人搭建彩钢板房，占用消防通道",
        "location": {"grid_id": "grid-a1-1", "address": "多福巷5号院"},
        "reporter": {"name": DEMO_REPORTER[0], "phone": DEMO_REPORTER[1]}, "reported_at": now or datetime.now(UTC),
    })  # fmt: skip
    opened = await open_case(client, task_queue, intake, vault, reporter, policy=load_policy(settings.policy_dir))
    h = opened.handle
    view = opened.view or await ready(h)
    step(f"受理 {h.id}，诉求人电话 {view.reporter.masked_phone}", view)
    await demo_climb(h)
    await demo_whistle(client, h)
    reply = m.ReplyAction(actor=staff("street-a"), result="违建已联合拆除，消防通道恢复畅通")
    step("街道办结", await send(h, "reply", reply, CaseView))
    rate = m.RateAction(actor=Actor(role=Role.channel, id=DEMO_CHANNEL), level="satisfied", solved=True)
    view = await send(h, "rate", rate, CaseView)
    step(f"群众评价“满意、已解决”，{view.status_label}", view)
    print("时间线：")
    print_timeline(await h.query(CaseWorkflow.events))
    print(ui_url(h.id))
    return h.id
