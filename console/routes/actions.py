"""Actions on a case (or one of its whistles) from the case page's forms.

Each goes through the workflow update the API's `CASE_ACTIONS`/`WHISTLE_ACTIONS` name for it, with the
engine's own model; a refusal is the workflow's own message (mapped by the API's `from_update`), shown on
the form, and the case stays as it was.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import PartsDep, SessionDep, TemporalDep, readable
from api.errors import ApiError, from_rpc, from_update
from console import forms, web
from console.accounts import User
from console.routes.board import board_panel
from console.routes.case import Feedback, done_key, not_found, render_case, whistle_key
from console.web import PREFIX, CurrentUser
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from models.errors import ErrorCode
from models.inputs import Action, with_units
from models.tables import CaseRow
from models.whistle import whistle_workflow_id
from services.actions import NotTaken, perform

router = APIRouter(prefix=f"{PREFIX}/cases", include_in_schema=False)

NOT_TAKEN = "服务繁忙，操作未能及时完成：请稍后刷新页面查看诉求状态，必要时重新提交（不会重复办理）"
TAKEN = "已受理，正在办理：请稍后刷新页面查看结果"

CASE_SPECS = {s.name.value: s for s in CASE_ACTIONS}
WHISTLE_SPECS = {s.name.value: s for s in WHISTLE_ACTIONS}


@router.post("/{case_id}/act/{name}", dependencies=web.Protected)
async def act_on_case(
    request: Request,
    case_id: str,
    name: str,
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
) -> Response:
    spec = CASE_SPECS.get(name)
    return await _act(request, case_id, spec, case_id, name, user, session, parts, temporal)


@router.post("/{case_id}/whistles/{n}/act/{name}", dependencies=web.Protected)
async def act_on_whistle(
    request: Request,
    case_id: str,
    n: int,
    name: str,
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
) -> Response:
    spec = WHISTLE_SPECS.get(name)
    key = whistle_key(n, name)
    return await _act(request, case_id, spec, whistle_workflow_id(case_id, n), key, user, session, parts, temporal)


async def _act(
    request: Request,
    case_id: str,
    spec: ActionSpec[Action] | None,
    workflow_id: str,
    shown_as: str,
    user: User,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
) -> Response:
    try:
        row: CaseRow = await run_in_threadpool(readable, session, web.principal(user), case_id)
    except ApiError as err:
        return not_found(request, err)
    if spec is None:
        return not_found(request, ApiError(404, ErrorCode.not_found, "没有这项操作"))
    form = await request.form()
    values = forms.sent(form)
    seen = form.get("seq")
    stale = isinstance(seen, str) and seen.isdigit() and int(seen) != row.last_seq
    key = form.get("request_id")
    feedback = Feedback(action=shown_as, values=values, stale=stale)
    status = 200
    try:
        action = with_units(
            spec.model(
                actor=user.actor,
                request_id=key if isinstance(key, str) and key else None,
                **forms.parse(spec.model, form),
            ),
            parts.policy.directory,
        )
    except ValidationError as err:
        feedback.error, status = forms.explain(err), 422
    else:
        handle = temporal.get_workflow_handle(workflow_id)
        wait = parts.settings.action_wait_seconds
        try:
            result = await perform(
                handle, spec, action, action.model_dump_json(), action.request_id or uuid.uuid4().hex, wait
            )
        except WorkflowUpdateFailedError as err:
            refused = from_update(err)
            feedback.error, status = refused.message, refused.status
        except NotTaken:  # the same form, sent again, is the same request
            feedback.error, status = NOT_TAKEN, 503
        except RPCError as err:
            refused = from_rpc(err, whistle=spec.whistle)
            feedback.error, status = refused.message, refused.status
        else:
            if result is None:
                feedback.error, status = TAKEN, 202
            else:
                feedback.done, feedback.stale, feedback.values = done_key(spec, action), False, {}
    if web.is_htmx(request) and form.get("panel") == "board":
        return await board_panel(request, user, session, parts, temporal, case_id, feedback=feedback, status=status)
    if web.is_htmx(request):
        return await render_case(
            request, user, session, parts, temporal, case_id, feedback=feedback, status=status, part=True
        )
    if feedback.error is None:
        return web.see_other(f"{PREFIX}/cases/{case_id}?done={feedback.done}")
    return await render_case(request, user, session, parts, temporal, case_id, feedback=feedback, status=status)
