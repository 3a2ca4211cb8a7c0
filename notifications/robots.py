"""Group robots: WeCom (企业微信) and DingTalk (钉钉) custom robots.

Both answer HTTP 200 with `{"errcode": 0, "errmsg": "ok"}` on success and put their errors in the same body:
WeCom 45009 and DingTalk 130101 are "too fast" (a rate limit), -1 is "system busy" (retry); any other code
(a wrong key, a bad signature, an invalid message) no retry can fix. Neither takes an idempotency key: a
message re-sent after a crash shows twice in the group (counted as a duplicate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

import httpx

from notifications.policy import DingTalkChannel, WeComChannel
from notifications.providers import Message, Outcome, Result, fit, http_outcome, json_body, markdown, post, title

BUSY = -1
WECOM_RATE_LIMITED = 45009
DINGTALK_RATE_LIMITED = 130101
WECOM_TEXT_BYTES, WECOM_MARKDOWN_BYTES = 2048, 4096
DINGTALK_BYTES = 20000


def errcode_outcome(resp: httpx.Response, rate_limited: int, pause: float) -> Outcome:
    decided = http_outcome(resp)
    if decided is not None:
        return decided
    body = json_body(resp)
    if body is None or not isinstance(body.get("errcode"), int):
        return Outcome(Result.retry, f"unreadable answer: {resp.text[:100]}")
    code, msg = body["errcode"], str(body.get("errmsg", ""))
    if code == 0:
        return Outcome.ok()
    detail = f"errcode {code}: {msg}"
    if code == rate_limited:
        return Outcome(Result.rate_limited, detail, pause)
    if code == BUSY:
        return Outcome(Result.retry, detail)
    return Outcome(Result.permanent, detail)


class WeCom:
    kind = "wecom"

    def __init__(self, name: str, channel: WeComChannel, key: str) -> None:
        self.name, self.channel, self.key = name, channel, key

    def payload(self, message: Message) -> dict[str, object]:
        if self.channel.msgtype == "markdown":
            return {"msgtype": "markdown", "markdown": {"content": fit(markdown(message.text), WECOM_MARKDOWN_BYTES)}}
        return {"msgtype": "text", "text": {"content": fit(message.text, WECOM_TEXT_BYTES)}}

    async def send(self, http: httpx.AsyncClient, message: Message) -> Outcome:
        resp = await post(http, self.channel.url, params={"key": self.key}, json=self.payload(message))
        if isinstance(resp, Outcome):
            return resp
        return errcode_outcome(resp, WECOM_RATE_LIMITED, self.channel.rate_limit.pause_seconds)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")), URL-encoded."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


class DingTalk:
    kind = "dingtalk"

    def __init__(self, name: str, channel: DingTalkChannel, token: str, secret: str) -> None:
        self.name, self.channel, self.token, self.secret = name, channel, token, secret

    def payload(self, message: Message) -> dict[str, object]:
        if self.channel.msgtype == "markdown":
            text = fit(markdown(message.text), DINGTALK_BYTES)
            return {"msgtype": "markdown", "markdown": {"title": title(message.text), "text": text}}
        return {"msgtype": "text", "text": {"content": fit(message.text, DINGTALK_BYTES)}}

    def signed_url(self, timestamp_ms: int | None = None) -> str:
        stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        # The sign is already URL-encoded, as DingTalk's documentation builds the URL.
        sign = dingtalk_sign(self.secret, stamp)
        query = f"access_token={urllib.parse.quote_plus(self.token)}&timestamp={stamp}&sign={sign}"
        return f"{self.channel.url}?{query}"

    async def send(self, http: httpx.AsyncClient, message: Message) -> Outcome:
        resp = await post(http, self.signed_url(), json=self.payload(message))
        if isinstance(resp, Outcome):
            return resp
        return errcode_outcome(resp, DINGTALK_RATE_LIMITED, self.channel.rate_limit.pause_seconds)
