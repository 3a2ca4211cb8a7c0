"""The case page: facts, location, holder, deadlines, timeline, whistles, and the actions this user may take.

Read through the API's own functions (`read_case`, `read_timeline`: the same authorization), so a case the
user may not read looks exactly like a case that does not exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import PartsDep, SessionDep, TemporalDep, readable
from api.errors import ApiError
from api.routes.cases import read_case, read_timeline, reveal_reporter
from api.routes.notifications import case_notifications, resend_notification
from console import records, web
from console.accounts import User
from console.web import PREFIX, CurrentUser
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from models.case import Status
from models.inputs import Action, Role
from services import queries

router = APIRouter(prefix=f"{PREFIX}/cases", include_in_schema=False)
DONE = {
    **{s.name.value: s.summary for s in (*CASE_ACTIONS, *WHISTLE_ACTIONS)},
    # A decision says which way it went ({holder}: where the case is now).
    "decide-return:approved": "审核退单：同意，改派至{holder}",
    "decide-return:refused": "审核退单：驳回，仍由{holder}办理",
    "decide-extension:approved": "审批延期：同意",
    "decide-extension:refused": "审批延期：驳回",
}
"""What the page confirms was done, by `done_key`."""
web.env.globals.update(DONE=DONE)


def done_key(spec: ActionSpec[Action], action: Action) -> str:
    """How a done action is confirmed: by its name, and a decision (同意/驳回) by which way it went."""
    approve = getattr(action, "approve", None)
    if isinstance(approve, bool):
        return f"{spec.name.value}:{'approved' if approve else 'refused'}"
    return spec.name.value


@dataclass
class Feedback:
    """How the last action went, shown on its form (refusal) or above the actions (done)."""

    action: str | None = None
    error: str | None = None
    done: str | None = None
    """the key in `DONE` of what was done"""
    values: dict[str, list[str]] = field(default_factory=dict)
    stale: bool = False
    again: bool = False
    """A 受理 just sent named the 工单号 this case was taken in as: nothing of it was recorded."""


def whistle_key(n: int, action: str) -> str:
    """How a whistle's action is named on the page (and in its request id): one case may have several."""
    return f"whistle-{n}-{action}"


def request_id(user: User, case_id: str, seq: int, action: str) -> str:
    """One key per person, case state and action: the same form sent twice is refused as 重复提交."""
    digest = hashlib.sha256(f"{user.username}|{case_id}|{seq}|{action}".encode()).hexdigest()
    return f"c{digest[:40]}"


async def case_context(
    user: User, session: SessionDep, parts: PartsDep, temporal: TemporalDep, case_id: str
) -> dict[str, Any]:
    """Everything the case page shows; raises the API's 404 for a case the user may not read, and its 503 while
    the case's worker does not answer."""
    who = web.principal(user)
    # After an action this request read the case's row before acting, and the session would hand back that row
    # as it was: the holder who may see the reporter would be the one before the action.
    session.expire_all()
    detail = await read_case(case_id, who, session, temporal)
    row = await run_in_threadpool(readable, session, who, case_id)
    timeline = await run_in_threadpool(read_timeline, case_id, who, session)
    view = detail.case
    actor = user.actor
    actions = await records.case_actions(temporal, case_id, actor) if view.status is not Status.closed else []
    supervisor = user.role is Role.supervisor
    context: dict[str, Any] = {
        "case": view,
        "deadlines": detail.deadlines,
        "events": timeline.data,
        "intake": await records.intake_of(temporal, case_id),
        "actions": actions,
        "whistles": await records.whistles_of(session, temporal, view, actor, parts.policy.directory),
        "policy": parts.policy,
        "ui_url": detail.ui_url if supervisor else None,
        "may_reveal": queries.may_reveal(row=row, role=who.role, actor=who.actor),
        "sees_reporter": queries.sees_reporter(
            channel=row.channel, holder=row.holder, status=row.status, role=who.role, actor=who.actor
        ),
        "request_id": lambda action: request_id(user, case_id, view.last_seq, action),
        "feedback": Feedback(),
    }
    context["offered"] = {*actions, *(whistle_key(w.summary.n, a) for w in context["whistles"] for a in w.actions)}
    if supervisor:
        context["notifications"] = (await run_in_threadpool(case_notifications, case_id, parts, session, who)).data
        context["reveals"] = await run_in_threadpool(records.reveals_of, session, case_id)
    return context


def poll_url(case_id: str) -> str:
    return f"{PREFIX}/cases/{case_id}/part"


def not_found(request: Request, err: ApiError) -> HTMLResponse:
    """A missing case and one the user may not read get the same page."""
    if err.status in (403, 404):
        text = "诉求不存在，或不在本单位的办理范围内。"
        return web.page(request, "message.html", {"title": "诉求不存在", "text": text}, status=404)
    return web.page(request, "message.html", {"title": "暂时无法显示", "text": err.message}, status=err.status)


def unshown(request: Request, err: ApiError, feedback: Feedback | None, status: int) -> HTMLResponse:
    """The page after an action, when the case cannot be shown: what became of the action is what the user needs
    to know, more than why the case cannot be read now."""
    if feedback is None or not feedback.error or err.status in (403, 404):
        return not_found(request, err)
    return web.page(request, "message.html", {"title": "暂时无法显示", "text": feedback.error}, status=status)


async def render_case(
    request: Request,
    user: User,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
    case_id: str,
    *,
    feedback: Feedback | None = None,
    status: int = 200,
    part: bool = False,
) -> Response:
    """The case page, or (for htmx) its self-refreshing part, with how the last action went."""
    try:
        context = await case_context(user, session, parts, temporal, case_id)
    except ApiError as err:
        return unshown(request, err, feedback, status)
    once = {"feedback": feedback} if feedback is not None else None
    block, _ = web.render_polled(request, "_case.html", context, url=poll_url(case_id), once=once)
    if part:
        return HTMLResponse(block, status_code=status, headers=web.SECURITY_HEADERS)
    return web.page(request, "case.html", {"block": block, "case": context["case"]}, status=status)


@router.get("/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    case_id: str,
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
    done: str | None = None,
    again: bool = False,
) -> Response:
    feedback = Feedback(action=done.split(":")[0], done=done) if done in DONE else None
    if again:
        feedback = Feedback(again=True)
    return await render_case(request, user, session, parts, temporal, case_id, feedback=feedback)


@router.get("/{case_id}/part", response_class=HTMLResponse)
async def case_part(
    request: Request,
    case_id: str,
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
    v: str = "",
) -> Response:
    try:
        context = await case_context(user, session, parts, temporal, case_id)
    except ApiError as err:
        return not_found(request, err)
    return web.polled(request, "_case.html", context, url=poll_url(case_id), v=v)


@router.post("/{case_id}/reporter", response_class=HTMLResponse, dependencies=web.Protected)
def reveal(request: Request, case_id: str, user: CurrentUser, session: SessionDep, parts: PartsDep) -> HTMLResponse:
    """诉求人联系方式, for the holder and supervisors only, written to the reveal audit by the API's own code."""
    try:
        shown = reveal_reporter(case_id, web.principal(user), session, parts, request)
    except ApiError as err:
        if err.status == 404 and err.code == "NotFound":
            return not_found(request, err)
        return web.page(request, "_reporter.html", {"error": err.message}, status=err.status)
    return web.page(request, "_reporter.html", {"name": shown.name, "phone": shown.phone, "error": None})


@router.post(
    "/{case_id}/notifications/{notification_id}/resend", response_class=HTMLResponse, dependencies=web.Protected
)
def resend(
    request: Request, case_id: str, notification_id: int, user: CurrentUser, session: SessionDep, parts: PartsDep
) -> HTMLResponse:
    """重发 a notification that failed or found no channel (the API's own resend); the list shows its new state."""
    web.require(user, Role.supervisor)
    who = web.principal(user)
    try:
        readable(session, who, case_id)
    except ApiError as err:
        return not_found(request, err)
    try:
        resend_notification(case_id, notification_id, parts, session, who)
        error = None
    except ApiError as err:  # not one that failed, or not this case's
        error = err.message
    listed = case_notifications(case_id, parts, session, who).data
    return web.page(request, "_notifications.html", {"notifications": listed, "case_id": case_id, "error": error})
