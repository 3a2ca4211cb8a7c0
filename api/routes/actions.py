"""Every lifecycle action as a POST on its case (or on one of its whistles), answered with the new state.

The caller is the actor; the workflow's validator decides whether the action is allowed, and a refusal comes
back as a 4xx with its Chinese message and machine code while the case stays as it was.
"""

import inspect
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, create_model
from temporalio.service import RPCError

from api import metrics
from api.deps import CurrentPrincipal, PartsDep, SessionDep, TemporalDep, readable
from api.errors import ApiError, ErrorBody, again_with, busy, from_rpc, unavailable
from api.schemas import WhistleNumber, public_view
from models import inputs as m
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from models.case import CaseView
from models.errors import ErrorCode
from models.whistle import WhistleView, whistle_workflow_id
from services import queries
from services.actions import NotTaken, perform

router = APIRouter(prefix="/cases", tags=["actions"])
log = structlog.get_logger(__name__)


EXAMPLES: dict[str, dict[str, Any]] = {
    "return": {"reason": "该处违建属相邻网格，请改派"},
    "decide-return": {"approve": True, "to_unit": "grid-a1-2", "reason": "属第二网格，改派"},
    "redispatch": {"to_unit": "dept-enforcement", "reason": "违法建设须执法部门处置"},
    "escalate": {"reason": "违建须执法，网格无力处置"},
    "whistle": {"kind": "ordinary", "departments": ["dept-enforcement"], "reason": "违建需联合执法"},
    "request-extension": {"amount": {"amount": 3, "unit": "working_days"}, "reason": "需等待鉴定结果"},
    "decide-extension": {"approve": True, "reason": "鉴定确需时间"},
    "suspend": {"reason": "冬季无法施工，待来年开春"},
    "resume": {"reason": "已具备施工条件"},
    "reply": {"result": "违建已拆除，已电话告知诉求人", "contacted_reporter": True},
    "rate": {"level": "satisfied", "solved": True, "comment": "处理及时"},
    "withdraw": {"reason": "诉求人表示问题已自行解决"},
    "merge": {"into_case_id": "case:hotline12345:20261201-0001", "reason": "同一违建的重复反映"},
    "reject": {"reason": "属民事纠纷，不属受理范围"},
    "urge": {"note": "请尽快签收办理"},
    "supervise": {"note": "已超期，请说明原因并限期办结"},
    "extend": {"amount": {"amount": 2, "unit": "working_days"}, "reason": "街道已协调物业，再给两个工作日"},
    "close": {"reason": "重办两次仍不满意，经督办核实已按政策处理"},
    "contact": {"note": "已到场，与街道对接"},
    "release": {"department": "dept-enforcement", "note": "违建已拆除"},
    "rate-departments": {"ratings": [{"department": "dept-enforcement", "speed": 5, "cooperation": 4, "result": 5}]},
}


def body_model(model: type[m.Action], example: dict[str, Any] | None = None) -> type[BaseModel]:
    """The action without its actor: the API key says who acts."""
    fields: dict[str, Any] = {
        name: (f.annotation, f) for name, f in model.model_fields.items() if name not in m.SERVER_FIELDS
    }
    return create_model(
        f"{model.__name__}Body",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]} if example else None),
        __doc__=model.__doc__,
        **fields,
    )


def in_progress(request_id: str) -> JSONResponse:
    """Taken by the case but not finished within the wait: the same request, sent again, gets its result."""
    body = ErrorBody(
        code=ErrorCode.in_progress,
        message=f"已受理，正在办理：请稍后带 Idempotency-Key: {request_id} 重发同一请求以取得结果（不会重复办理）",
        request_id=request_id,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=202, headers=again_with(request_id))


def make_endpoint(spec: ActionSpec[m.Action]) -> Callable[..., Any]:
    body_type = body_model(spec.model, EXAMPLES.get(spec.name.value))
    optional = not any(f.is_required() for f in body_type.model_fields.values())

    async def endpoint(**kw: Any) -> BaseModel | JSONResponse:
        principal = kw["principal"]
        temporal = kw["temporal"]
        case_id: str = kw["case_id"]
        actor = principal.case_actor()
        # Who may not read the case is told it does not exist, before anything is asked of the workflow.
        readable(kw["session"], principal, case_id)
        key = kw.get("idempotency_key")
        try:
            body = kw["body"] or body_type()
            action = m.with_units(
                spec.model(actor=actor, request_id=key, **body.model_dump()), kw["parts"].policy.directory
            )
        except ValueError as err:
            raise ApiError(422, ErrorCode.invalid_input, f"请求内容有误：{err}") from err
        workflow_id = whistle_workflow_id(case_id, kw["n"]) if spec.whistle else case_id
        request_id = key or uuid.uuid4().hex
        log.info("case_action", case_id=case_id, action=spec.name.value, unit=actor.unit_id, role=actor.role.value)
        handle = temporal.get_workflow_handle(workflow_id)
        wait = kw["parts"].settings.action_wait_seconds
        content = f"{actor.label()}|{body.model_dump_json()}"
        try:
            result = await perform(handle, spec, action, content, request_id, wait)
        except NotTaken as err:
            raise (unavailable if err.unreachable else busy)(request_id) from err
        except RPCError as err:
            raise from_rpc(err, whistle=spec.whistle) from err
        if result is None:
            return in_progress(request_id)
        metrics.ACTIONS.labels(action=spec.name.value).inc()
        if not isinstance(result, CaseView):
            return result
        sees = queries.sees_reporter(
            channel=result.channel, holder=result.holder, status=result.status, role=principal.role, actor=actor
        )
        return public_view(result, reporter=sees)

    params = [
        inspect.Parameter("case_id", inspect.Parameter.KEYWORD_ONLY, annotation=str),
        # Actions with nothing to say (签收, 报到) may be posted with no body at all.
        inspect.Parameter(
            "body",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[body_type | None, Body()] if optional else Annotated[body_type, Body()],
            default=None if optional else inspect.Parameter.empty,
        ),
        inspect.Parameter("principal", inspect.Parameter.KEYWORD_ONLY, annotation=CurrentPrincipal),
        inspect.Parameter("temporal", inspect.Parameter.KEYWORD_ONLY, annotation=TemporalDep),
        inspect.Parameter("parts", inspect.Parameter.KEYWORD_ONLY, annotation=PartsDep),
        inspect.Parameter("session", inspect.Parameter.KEYWORD_ONLY, annotation=SessionDep),
        inspect.Parameter(
            "idempotency_key",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                str | None,
                Header(
                    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                    description="同一请求重发（同一键、同一内容）只办理一次，返回其结果；同一键用于另一请求时被拒绝（重复提交）",
                ),
            ],
            default=None,
        ),
    ]
    if spec.whistle:
        params.insert(1, inspect.Parameter("n", inspect.Parameter.KEYWORD_ONLY, annotation=WhistleNumber))
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = spec.name.value.replace("-", "_")
    return endpoint


for spec in CASE_ACTIONS:
    router.add_api_route(
        f"/{{case_id}}/{spec.name}",
        make_endpoint(spec),
        methods=["POST"],
        response_model=CaseView,
        summary=spec.summary,
        operation_id=f"case-{spec.name}",
    )
for spec in WHISTLE_ACTIONS:
    router.add_api_route(
        f"/{{case_id}}/whistles/{{n}}/{spec.name}",
        make_endpoint(spec),
        methods=["POST"],
        response_model=WhistleView,
        summary=spec.summary,
        operation_id=f"whistle-{spec.name}",
    )
