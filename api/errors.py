"""One error shape for every refusal: an HTTP status, a machine code, and a message in Chinese.

The workflow's validators decide what is refused; this module maps their codes, Temporal's and the database's
failures, and everything FastAPI and Starlette refuse, to HTTP once. A path with a format of its own (Open311,
`register_format`) gets that format; everything else `{code, message, fields}`.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import exc as db
from starlette.exceptions import HTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, TemporalError
from temporalio.service import RPCError, RPCStatusCode

from api import metrics
from models.errors import ErrorCode, input_problem
from temporal_client import not_now

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5
STATUS_FOR_CODE: dict[ErrorCode, int] = {
    ErrorCode.wrong_actor: 403,
    ErrorCode.wrong_tier: 403,
    ErrorCode.unknown_unit: 422,
    ErrorCode.invalid_input: 422,
    ErrorCode.missing_field: 422,
    ErrorCode.merge_target_not_found: 422,
}
"""A workflow's refusal as HTTP; every other code of the workflows is a conflict with the case's state (409)."""
HTTP_CODES = {
    400: ErrorCode.bad_request,
    404: ErrorCode.not_found,
    405: ErrorCode.method_not_allowed,
    413: ErrorCode.too_large,
    415: ErrorCode.unsupported_media,
}
HTTP_MESSAGES = {
    400: "请求无法解析：请检查请求体格式",
    404: "请求的地址不存在",
    405: "该地址不支持此请求方法",
    413: "请求体过大",
    415: "不支持的请求格式",
}


class FieldError(BaseModel):
    field: str = Field(description="where the input is at fault, e.g. body.title or query.date_from")
    message: str


class ErrorBody(BaseModel):
    """Every refusal and failure: `code` for programs, `message` for people (Chinese)."""

    code: ErrorCode = Field(examples=[ErrorCode.wrong_actor])
    message: str = Field(examples=["只有当前承办单位（多福巷社区第一网格）可以签收"])
    fields: list[FieldError] | None = Field(default=None, description="the inputs at fault (422)")
    request_id: str | None = Field(
        default=None, description="send the same request again with `Idempotency-Key: <request_id>` (503, 202)"
    )


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        fields: list[FieldError] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.fields, self.request_id = fields, request_id

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, fields=self.fields, request_id=self.request_id)


def retry_later() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def again_with(request_id: str | None) -> dict[str, str]:
    return retry_later() | ({"Idempotency-Key": request_id} if request_id else {})


def unavailable(request_id: str | None = None) -> ApiError:
    """Temporal does not answer (or fails in passing); with the request id, the same request may be sent again."""
    message = "服务暂时不可用，请稍后重试" + (
        f"（带 Idempotency-Key: {request_id}，不会重复办理）" if request_id else ""
    )
    return ApiError(503, ErrorCode.temporal_unavailable, message, again_with(request_id), request_id=request_id)


def database_unavailable() -> ApiError:
    return ApiError(503, ErrorCode.database_unavailable, "数据库暂时不可用，请稍后重试", retry_later())


def busy_reading() -> ApiError:
    """A case read its worker did not answer in time (none free, or none running): the read itself may be sent
    again; there is no action to repeat, so no Idempotency-Key to give."""
    return ApiError(503, ErrorCode.busy, "服务繁忙，暂时无法读取诉求当前状态，请稍后重试", retry_later())


def busy(request_id: str | None = None) -> ApiError:
    """The engine did not answer in time; the action may still take effect, so say how to send it again."""
    again = "带同一 Idempotency-Key 重试" if request_id is None else f"带 Idempotency-Key: {request_id} 重试"
    message = f"服务繁忙，请求未能及时完成：请稍后查询诉求状态，必要时{again}（不会重复办理）"
    return ApiError(503, ErrorCode.busy, message, again_with(request_id), request_id=request_id)


def not_found(what: str = "诉求") -> ApiError:
    return ApiError(404, ErrorCode.not_found, f"{what}不存在")


def from_rpc(err: RPCError, *, whistle: bool = False) -> ApiError:
    """Temporal's refusal of an update as the API answers it. `whistle`: the update went to one of the case's
    whistles, whose workflow ends when the whistle does while its case goes on."""
    if err.status is RPCStatusCode.NOT_FOUND:
        if "completed" in err.message or "already" in err.message:
            return ended(whistle)
        return not_found("吹哨" if whistle else "诉求")
    if not_now(err):
        return unavailable()
    if err.status is RPCStatusCode.FAILED_PRECONDITION:
        return ended(whistle)
    return ApiError(502, ErrorCode.temporal_error, "工作流服务返回错误，请联系管理员")


def ended(whistle: bool) -> ApiError:
    if whistle:
        return ApiError(409, ErrorCode.wrong_state, "该吹哨已结束（各部门已撤离并评价，或诉求已办结），不能再操作")
    return ApiError(409, ErrorCode.case_closed, "该诉求已销号，不能再操作")


def from_update(err: WorkflowUpdateFailedError) -> ApiError:
    cause = err.cause
    code = ErrorCode.of(cause.type) if isinstance(cause, ApplicationError) else None
    if isinstance(cause, ApplicationError) and code is not None:
        headers = {"Retry-After": "1"} if code is ErrorCode.not_ready else None
        return ApiError(STATUS_FOR_CODE.get(code, 409), code, cause.message, headers)
    return ApiError(409, ErrorCode.rejected, str(cause or err))


def invalid(errors: list[dict[str, object]]) -> ApiError:
    fields = [FieldError(field=".".join(str(p) for p in e["loc"]), message=input_problem(e)) for e in errors]  # type: ignore[attr-defined]
    return ApiError(422, ErrorCode.invalid_input, "请求内容有误：" + "；".join(f.field for f in fields), fields=fields)


def refusal(exc: Exception) -> ApiError | None:
    """What the caller is told of an error a route let through from Temporal or the database; None for any
    other (a failure of the service's own)."""
    match exc:
        case ApiError():
            return exc
        case WorkflowUpdateFailedError():
            return from_update(exc)
        case RPCTimeoutOrCancelledError():
            return busy()
        case RPCError():
            return from_rpc(exc)
        case TemporalError():
            return ApiError(502, ErrorCode.temporal_error, "工作流服务返回错误，请联系管理员")
        case db.OperationalError() | db.InterfaceError() | db.TimeoutError():
            return database_unavailable()
    return None


Renderer = Callable[[Request, ApiError], Response]
_FORMATS: dict[str, Renderer] = {}


def register_format(prefix: str, render: Renderer) -> None:
    """Paths under `prefix` answer their errors with `render` (Open311's list, the console's page) instead of
    `ErrorBody`."""
    _FORMATS[prefix] = render


def respond(request: Request, err: ApiError) -> Response:
    metrics.REJECTIONS.labels(code=err.code).inc()
    for prefix, render in _FORMATS.items():
        if request.url.path.startswith(prefix):
            return render(request, err)
    return JSONResponse(err.body().model_dump(exclude_none=True), status_code=err.status, headers=err.headers)


def install(app: FastAPI) -> None:
    async def answer(request: Request, err: ApiError) -> Response:
        log.info("request_refused", status=err.status, code=err.code, path=request.url.path)
        return respond(request, err)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return await answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return await answer(request, invalid(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = HTTP_CODES.get(
            exc.status_code, ErrorCode.bad_request if exc.status_code < 500 else ErrorCode.internal_error
        )
        message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        return await answer(request, ApiError(exc.status_code, code, message, dict(exc.headers or {}) or None))

    async def _outside(request: Request, exc: Exception) -> Response:
        refused = refusal(exc)
        assert refused is not None, exc
        if not isinstance(exc, WorkflowUpdateFailedError):  # a case refusing an action is not Temporal failing
            status = exc.status.name if isinstance(exc, RPCError) and exc.status else None
            log.warning("dependency_error", error=type(exc).__name__, status=status, path=request.url.path)
        return await answer(request, refused)

    for kind in (TemporalError, db.OperationalError, db.InterfaceError, db.TimeoutError):
        app.add_exception_handler(kind, _outside)

    @app.exception_handler(Exception)
    async def _failure(request: Request, exc: Exception) -> Response:
        log.exception("request_failed", path=request.url.path)
        return respond(request, ApiError(500, ErrorCode.internal_error, "服务内部错误，请联系管理员"))
