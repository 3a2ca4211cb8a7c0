"""Every lifecycle action as a POST on its case (or on one of its whistles), answered with the new state.

The caller is the actor; the workflow's validator decides whether the action is allowed, and a refusal comes
back as a 4xx with its Chinese message and machine code while the case stays as it was.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Header
from pydantic import BaseModel, ConfigDict, create_model

from api import metrics
from api.deps import CurrentPrincipal, TemporalDep
from api.errors import ApiError
from api.schemas import public_view
from models import case as m
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

router = APIRouter(prefix="/cases", tags=["actions"])
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Spec:
    name: str
    update: Callable[..., Any]
    model: type[m.Action]
    summary: str
    whistle: bool = False


CASE_ACTIONS = [
    Spec("sign", CaseWorkflow.sign, m.SignAction, "签收"),
    Spec("return", CaseWorkflow.return_case, m.ReturnAction, "退单（说明理由）"),
    Spec("decide-return", CaseWorkflow.decide_return, m.ReturnDecision, "审核退单：同意并改派，或驳回"),
    Spec("redispatch", CaseWorkflow.redispatch, m.RedispatchAction, "改派（督办）"),
    Spec("escalate", CaseWorkflow.escalate, m.EscalateAction, "上报上一级"),
    Spec("whistle", CaseWorkflow.whistle, m.WhistleAction, "吹哨：召集职能部门"),
    Spec("request-extension", CaseWorkflow.request_extension, m.ExtensionRequest, "申请延期"),
    Spec("decide-extension", CaseWorkflow.decide_extension, m.ExtensionDecision, "审批延期"),
    Spec("suspend", CaseWorkflow.suspend, m.SuspendAction, "挂账"),
    Spec("resume", CaseWorkflow.resume, m.ResumeAction, "恢复办理"),
    Spec("reply", CaseWorkflow.reply, m.ReplyAction, "办结"),
    Spec("rate", CaseWorkflow.rate, m.RateAction, "回访评价（由受理渠道代群众提交）"),
    Spec("withdraw", CaseWorkflow.withdraw, m.WithdrawAction, "撤回（由受理渠道代群众提交）"),
    Spec("merge", CaseWorkflow.merge, m.MergeAction, "合并重复诉求（督办）"),
    Spec("reject", CaseWorkflow.reject_case, m.RejectAction, "不予受理（督办）"),
    Spec("urge", CaseWorkflow.urge, m.UrgeAction, "催办（督办）"),
    Spec("supervise", CaseWorkflow.supervise, m.SuperviseAction, "督办"),
    Spec("close", CaseWorkflow.close, m.CloseAction, "重办超限后督办销号"),
]
WHISTLE_ACTIONS = [
    Spec("report", WhistleWorkflow.report, m.ReportAction, "报到", whistle=True),
    Spec("contact", WhistleWorkflow.contact, m.ContactAction, "与吹哨单位对接", whistle=True),
    Spec("release", WhistleWorkflow.release, m.ReleaseAction, "确认部门任务完成、准予撤离（吹哨单位）", whistle=True),
    Spec("rate-departments", WhistleWorkflow.rate, m.RateDepartmentsAction, "评价报到部门（吹哨单位）", whistle=True),
]


def body_model(model: type[m.Action]) -> type[BaseModel]:
    """The action without its actor: the API key says who acts."""
    fields: dict[str, Any] = {
        name: (f.annotation, f) for name, f in model.model_fields.items() if name not in ("actor", "request_id")
    }
    return create_model(
        f"{model.__name__}Body",
        __config__=ConfigDict(extra="forbid"),
        __doc__=model.__doc__,
        **fields,
    )


def make_endpoint(spec: Spec) -> Callable[..., Any]:
    body_type = body_model(spec.model)
    optional = not any(f.is_required() for f in body_type.model_fields.values())

    async def endpoint(**kw: Any) -> BaseModel:
        principal = kw["principal"]
        temporal = kw["temporal"]
        case_id: str = kw["case_id"]
        actor = principal.case_actor()
        key = kw.get("idempotency_key")
        try:
            body = kw["body"] or body_type()
            action = spec.model(actor=actor, request_id=key, **body.model_dump())
        except ValueError as err:
            raise ApiError(422, "InvalidInput", f"请求内容有误：{err}") from err
        workflow_id = f"{case_id}/whistle/{kw['n']}" if spec.whistle else case_id
        log.info("case_action", case_id=case_id, action=spec.name, unit=actor.unit_id, role=actor.role.value)
        result: BaseModel = await temporal.get_workflow_handle(workflow_id).execute_update(spec.update, action)
        metrics.ACTIONS.labels(action=spec.name).inc()
        return public_view(result) if isinstance(result, m.CaseView) else result

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
        inspect.Parameter(
            "idempotency_key",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                str | None,
                Header(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="重复提交同一请求时被拒绝"),
            ],
            default=None,
        ),
    ]
    if spec.whistle:
        params.insert(1, inspect.Parameter("n", inspect.Parameter.KEYWORD_ONLY, annotation=int))
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = spec.name.replace("-", "_")
    return endpoint


for spec in CASE_ACTIONS:
    router.add_api_route(
        f"/{{case_id}}/{spec.name}",
        make_endpoint(spec),
        methods=["POST"],
        response_model=m.CaseView,
        summary=spec.summary,
        operation_id=f"case-{spec.name}",
    )
for spec in WHISTLE_ACTIONS:
    router.add_api_route(
        f"/{{case_id}}/whistles/{{n}}/{spec.name}",
        make_endpoint(spec),
        methods=["POST"],
        response_model=m.WhistleView,
        summary=spec.summary,
        operation_id=f"whistle-{spec.name}",
    )
