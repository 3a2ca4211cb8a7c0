"""What every request must be before any route reads it: a body of bounded size and JSON of bounded depth,
and a path and query that a database can store (no NUL or other control character).

Refusals come in the path's error format (`api.errors.respond`): 413 for a body too large, 422 (Open311: 400)
naming the parameter at fault, so no route, parser or database ever sees such input.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, FieldError, respond
from models.errors import ErrorCode

MAX_JSON_DEPTH = 32
CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest (strings skipped), without parsing."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b'""', body)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def text_at_fault(scope: Scope) -> FieldError | None:
    path: str = scope.get("path", "")
    if CONTROL.search(path):
        return FieldError(field="path", message="不能包含 NUL 等控制字符")
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        if CONTROL.search(key) or CONTROL.search(value):
            return FieldError(
                field=f"query.{key if not CONTROL.search(key) else '?'}", message="不能包含 NUL 等控制字符"
            )
    return None


class Edge:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self._check(scope, receive)
        if isinstance(refusal, ApiError):
            await respond(Request(scope), refusal)(scope, receive, send)
            return
        await self.app(scope, _replay(refusal, receive), send)

    async def _check(self, scope: Scope, receive: Receive) -> ApiError | bytes:
        """The refusal, or the body read whole (at most `max_body_bytes`)."""
        fault = text_at_fault(scope)
        if fault is not None:
            return ApiError(422, ErrorCode.invalid_input, f"请求内容有误：{fault.field}", fields=[fault])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return too_large(self.max_body_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return too_large(self.max_body_bytes)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and content_type.endswith(b"json") and json_depth(body) > MAX_JSON_DEPTH:
            return ApiError(422, ErrorCode.invalid_input, f"JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）")
        return body


def too_large(limit: int) -> ApiError:
    return ApiError(413, ErrorCode.too_large, f"请求体过大：最多 {limit} 字节")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # a disconnect, when the app waits for one

    return replay
