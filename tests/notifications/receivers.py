"""Local HTTP receivers that speak each provider's format and errors, for the notification tests.

One app serves them all: `/wecom` (a WeCom group robot: key, msgtype, 20 a minute, errcode 45009), `/dingtalk`
(a DingTalk custom robot: access token and the 加签 signature checked, errcode 310000 otherwise), `/sms` (an SMS
gateway: bearer token, the phone), `/hook` (the generic webhook: its HMAC signature checked). `fail` makes
every endpoint answer a fault until cleared: "500", "429", "400" or "timeout" (no answer until released; `held`
counts the requests waiting so);
`hang_after` lets the webhook take messages and stop answering, as a dispatcher killed mid-send would leave them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from scripts.temporal_dev import free_port

WECOM_KEY = "wecom-robot-key-0001"
DINGTALK_TOKEN = "dingtalk-access-token-0001"
DINGTALK_SECRET = "SECdingtalk-signing-secret-0001"
SMS_TOKEN = "sms-gateway-token-0001"
WEBHOOK_SECRET = "webhook-signing-secret-0001"
SECRETS = {
    "wecom_comm": WECOM_KEY,
    "dingtalk_token": DINGTALK_TOKEN,
    "dingtalk_secret": DINGTALK_SECRET,
    "sms_token": SMS_TOKEN,
}


@dataclass
class Received:
    endpoint: str
    body: dict[str, Any]
    key: str | None
    at: float


@dataclass
class Receivers:
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    fail: str | None = None
    wecom_per_minute: int = 20
    retry_after: str | None = None
    hang_after: int | None = None
    """The webhook keeps every message, and answers none from this many on (until released)."""
    unanswered: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    _wecom_sent: list[float] = field(default_factory=list)

    def on(self, endpoint: str) -> list[Received]:
        return [r for r in self.received if r.endpoint == endpoint]

    def keys(self, endpoint: str) -> list[str]:
        return [r.key or "" for r in self.on(endpoint)]


def verify_webhook(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    want = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, signature)


def app_for(state: Receivers) -> FastAPI:
    app = FastAPI()

    async def fault() -> Response | None:
        if state.fail == "timeout":
            state.held += 1
            try:
                await state.release.wait()
            finally:
                state.held -= 1
            return JSONResponse({"errcode": -1, "errmsg": "released"}, status_code=503)
        if state.fail in ("500", "400"):
            return JSONResponse({"error": f"fault {state.fail}"}, status_code=int(state.fail))
        if state.fail == "429":
            headers = {"Retry-After": state.retry_after} if state.retry_after else None
            return JSONResponse({"error": "too many"}, status_code=429, headers=headers)
        return None

    def refuse(endpoint: str, why: str, body: dict[str, Any]) -> JSONResponse:
        state.refused.append((endpoint, why))
        return JSONResponse(body)

    @app.post("/wecom/send")
    async def wecom(request: Request, key: str = "") -> Response:
        if (answer := await fault()) is not None:
            return answer
        if key != WECOM_KEY:
            return refuse("wecom", "key", {"errcode": 93000, "errmsg": "invalid webhook url"})
        body = await request.json()
        kind = body.get("msgtype")
        content = (body.get(kind) or {}).get("content", "") if kind in ("text", "markdown") else ""
        limit = 2048 if kind == "text" else 4096
        if not content or len(content.encode()) > limit:
            return refuse("wecom", "message", {"errcode": 40008, "errmsg": "invalid message type"})
        now = time.monotonic()
        state._wecom_sent[:] = [t for t in state._wecom_sent if t > now - 60]
        if len(state._wecom_sent) >= state.wecom_per_minute:
            return refuse("wecom", "rate", {"errcode": 45009, "errmsg": "api freq out of limit"})
        state._wecom_sent.append(now)
        state.received.append(Received("wecom", body, None, time.time()))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.post("/dingtalk/send")
    async def dingtalk(request: Request, access_token: str = "", timestamp: str = "", sign: str = "") -> Response:
        if (answer := await fault()) is not None:
            return answer
        if access_token != DINGTALK_TOKEN:
            return refuse("dingtalk", "token", {"errcode": 300001, "errmsg": "token is not exist"})
        mac = hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
        # FastAPI has URL-decoded the query once: `sign` is the base64 text itself.
        if not fresh or not hmac.compare_digest(base64.b64encode(mac).decode(), sign):
            return refuse("dingtalk", "sign", {"errcode": 310000, "errmsg": "sign not match"})
        body = await request.json()
        state.received.append(Received("dingtalk", body, None, time.time()))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.post("/sms/send")
    async def sms(request: Request) -> Response:
        if (answer := await fault()) is not None:
            return answer
        if request.headers.get("authorization") != f"Bearer {SMS_TOKEN}":
            return JSONResponse({"code": "UNAUTHORIZED", "message": "bad token"}, status_code=401)
        body = await request.json()
        state.received.append(Received("sms", body, request.headers.get("idempotency-key"), time.time()))
        return JSONResponse({"code": "OK", "message": "OK", "biz_id": body.get("message_id")})

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        if (answer := await fault()) is not None:
            return answer
        raw = await request.body()
        stamp = request.headers.get("x-whistle-timestamp", "")
        if not verify_webhook(WEBHOOK_SECRET, stamp, raw, request.headers.get("x-whistle-signature", "")):
            state.refused.append(("hook", "signature"))
            return JSONResponse({"error": "bad signature"}, status_code=401)
        state.received.append(
            Received("hook", await request.json(), request.headers.get("idempotency-key"), time.time())
        )
        if state.hang_after is not None and len(state.on("hook")) >= state.hang_after:
            state.unanswered.append(request.headers.get("idempotency-key", ""))
            await state.release.wait()
        return JSONResponse({"ok": True})

    return app


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free local port; yields its base URL."""
    for attempt in range(4):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        server.config.timeout_graceful_shutdown = 1
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            break
        if attempt == 3:
            raise RuntimeError("the receiver did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def receivers() -> AsyncIterator[tuple[Receivers, str]]:
    state = Receivers()
    try:
        async with serving(app_for(state)) as url:
            yield state, url
    finally:
        state.release.set()


@asynccontextmanager
async def closing_server() -> AsyncIterator[str]:
    """A listener that reads the request and closes the connection without answering."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def policy_toml(base: str, *, max_attempts: int = 50, first: float = 0.05, top: float = 0.2, **extra: str) -> str:
    """A notifications.toml whose channels are these receivers: the community and its grids in a WeCom group,
    the supervisor in DingTalk, the reporter by SMS; fast retries for tests."""
    lines = [
        "[delivery]",
        f"max_attempts = {max_attempts}",
        f"first_delay_seconds = {first}",
        f"max_delay_seconds = {top}",
        f"timeout_seconds = {extra.pop('timeout', '1.0')}",
        f"lease_seconds = {extra.pop('lease', '5.0')}",
        "",
        "[channels.wecom-comm-a1]",
        'provider = "wecom"',
        'key = "wecom_comm"',
        f'url = "{base}/wecom/send"',
        'recipients = ["comm-a1", "grid-a1-1", "grid-a1-2"]',
        extra.pop("wecom_limit", "rate_limit = { messages = 20, per_seconds = 60, pause_seconds = 60 }"),
        "",
        "[channels.dingtalk-supervisor]",
        'provider = "dingtalk"',
        'token = "dingtalk_token"',
        'secret = "dingtalk_secret"',
        f'url = "{base}/dingtalk/send"',
        'recipients = ["supervisor"]',
        "",
        "[channels.sms]",
        'provider = "sms"',
        f'url = "{base}/sms/send"',
        'credential = "sms_token"',
        'sign_name = "东城区12345"',
        'recipients = ["reporter"]',
        "",
    ]
    return "\n".join(lines)
