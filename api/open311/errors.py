"""Errors in the standard's shape, not the engine's `{code, message}`: a list `[{"code": <HTTP status>,
"description": "..."}]` (in XML `<errors><error>…`), answered with that status: 400 bad input, 403 a missing,
bad or wrong key, 404 unknown, 503 not now (with Retry-After). Every error under `/open311/` has it, unknown
paths and methods included (`api.errors` hands them here by their path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from api.errors import ApiError
from api.open311.formats import format_of, render
from models.errors import ErrorCode

PREFIX = "/open311/"
# The engine's statuses the standard does not use, as its clients expect them.
STANDARD_STATUS = {401: 403, 422: 400}


class Open311Error(ApiError):
    """A refusal with the standard's description; `reason` is the machine code for metrics and logs."""

    def __init__(self, status: int, description: str, reason: ErrorCode = ErrorCode.invalid_input) -> None:
        super().__init__(status, reason, description)


class Error(BaseModel):
    code: int
    description: str


def name(loc: str | Sequence[Any]) -> str:
    """("query", "start_date") or "query.start_date" → "start_date": the prefixes say nothing to the client."""
    parts = loc.split(".") if isinstance(loc, str) else [str(p) for p in loc]
    return ".".join(p for p in parts if p not in ("query", "body", "path", "header")) or "request"


def render_error(request: Request, err: ApiError) -> Response:
    status = STANDARD_STATUS.get(err.status, err.status)
    description = err.message
    if err.fields:
        description = "请求参数有误：" + "；".join(f"{name(f.field)}：{f.message}" for f in err.fields)
    return render(
        format_of(request.url.path),
        "errors",
        [Error(code=status, description=description)],
        status=status,
        headers=err.headers,
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "model": list[Error], "content": {"text/xml": {}}}
    for code, text in (
        (400, "请求有误"),
        (403, "api_key 缺失、无效或无权"),
        (404, "不存在"),
        (503, "暂时不可用，请稍后重试"),
    )
}
