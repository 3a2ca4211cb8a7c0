"""One error shape for every refusal: an HTTP status, a machine code, and a message in Chinese.

The workflow's validators decide what is refused; this module only maps their codes to HTTP.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import metrics
from models.errors import ErrorCode

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


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[dict[str, str]] | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def unavailable() -> ApiError:
    return ApiError(503, "TemporalUnavailable", "服务暂时不可用，请稍后重试", {"Retry-After": str(RETRY_AFTER_SECONDS)})


def busy() -> ApiError:
    """The engine did not answer in time; the action may still take effect, so say how to check."""
    return ApiError(
        503,
        "Busy",
        "服务繁忙，请求未能及时完成：请稍后查询诉求状态，必要时带同一 Idempotency-Key 重试",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def not_found(what: str = "诉求") -> ApiError:
    return ApiError(404, "NotFound", f"{what}不存在")


def from_rpc(err: RPCError) -> ApiError:
    if err.status is RPCStatusCode.NOT_FOUND:
        if "completed" in err.message or "already" in err.message:
            return ApiError(409, "CaseClosed", "该诉求已销号，不能再操作")
        return not_found()
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return unavailable()
    if err.status is RPCStatusCode.FAILED_PRECONDITION:
        return ApiError(409, "CaseClosed", "该诉求已销号，不能再操作")
    return ApiError(502, "TemporalError", "工作流服务返回错误，请联系管理员")


def from_update(err: WorkflowUpdateFailedError) -> ApiError:
    cause = err.cause
    code = ErrorCode.of(cause.type) if isinstance(cause, ApplicationError) else None
    if isinstance(cause, ApplicationError) and code is not None:
        headers = {"Retry-After": "1"} if code is ErrorCode.not_ready else None
        return ApiError(STATUS_FOR_CODE.get(code, 409), code, cause.message, headers)
    return ApiError(409, "Rejected", str(cause or err))


def _body(status: int, code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return ErrorBody(code=code, message=message, fields=fields).model_dump(exclude_none=True)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.REJECTIONS.labels(code=exc.code).inc()
        log.info("request_refused", status=exc.status, code=exc.code, path=request.url.path)
        return JSONResponse(_body(exc.status, exc.code, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": str(e["msg"])} for e in exc.errors()]
        metrics.REJECTIONS.labels(code="InvalidInput").inc()
        log.info("request_invalid", path=request.url.path, fields=[f["field"] for f in fields])
        message = "请求内容有误：" + "；".join(f["field"] for f in fields)
        return JSONResponse(_body(422, "InvalidInput", message, fields), status_code=422)

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update_failed(request: Request, exc: WorkflowUpdateFailedError) -> JSONResponse:
        return await _api_error(request, from_update(exc))

    @app.exception_handler(RPCTimeoutOrCancelledError)
    async def _slow(request: Request, exc: RPCTimeoutOrCancelledError) -> JSONResponse:
        log.warning("temporal_rpc_timeout", path=request.url.path)
        return await _api_error(request, busy())

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal_rpc_error", status=exc.status.name if exc.status else None, path=request.url.path)
        return await _api_error(request, from_rpc(exc))
