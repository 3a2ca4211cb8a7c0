"""Every lifecycle action as a POST on its case (or on one of its whistles), answered with the new state.

The caller is the actor; the workflow's validator decides whether the action is allowed, and a refusal comes
back as a 4xx with its Chinese message and machine code while the case stays as it was.
"""

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Header
from pydantic import BaseModel, ConfigDict, create_model

from api import metrics
from api.deps import CurrentPrincipal, SessionDep, TemporalDep, readable
from api.errors import ApiError
from api.schemas import public_view
from models import case as m
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from services import queries

router = APIRouter(prefix="/cases", tags=["actions"])
log = structlog.get_logger(__name__)


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


def make_endpoint(spec: ActionSpec[m.Action]) -> Callable[..., Any]:
    body_type = body_model(spec.model)
    optional = not any(f.is_required() for f in body_type.model_fields.values())

    async def endpoint(**kw: Any) -> BaseModel:
        principal = kw["principal"]
        temporal = kw["temporal"]
        case_id: str = kw["case_id"]
        actor = principal.case_actor()
        # Who may not read the case is told it does not exist, before anything is asked of the workflow.
        readable(kw["session"], principal, case_id)
        key = kw.get("idempotency_key")
        try:
            body = kw["body"] or body_type()
            action = spec.model(actor=actor, request_id=key, **body.model_dump())
        except ValueError as err:
            raise ApiError(422, "InvalidInput", f"请求内容有误：{err}") from err
        workflow_id = f"{case_id}/whistle/{kw['n']}" if spec.whistle else case_id
        log.info("case_action", case_id=case_id, action=spec.name.value, unit=actor.unit_id, role=actor.role.value)
        result: BaseModel = await temporal.get_workflow_handle(workflow_id).execute_update(
            spec.update, action, result_type=m.WhistleView if spec.whistle else m.CaseView
        )
        metrics.ACTIONS.labels(action=spec.name.value).inc()
        if not isinstance(result, m.CaseView):
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
        inspect.Parameter("session", inspect.Parameter.KEYWORD_ONLY, annotation=SessionDep),
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
    endpoint.__name__ = spec.name.value.replace("-", "_")
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
