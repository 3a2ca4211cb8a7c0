"""What every provider shares: the message it is given, the outcome it answers, and how HTTP answers read.

A provider sends one message and says what happened: delivered, retry (a timeout, a closed connection, a
5xx), rate_limited (429 or the provider's own code; does not count toward the retry limit), or permanent (a
4xx or an error code that no retry can fix: the message is dead at once and waits for a supervisor's resend).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

import httpx

MAX_RETRY_AFTER = 24 * 3600.0
ERROR_CHARS = 300

# httpx logs every request's URL at INFO, and a robot's URL carries its key: never in a log.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Message:
    key: str = ""
    """The stable id of the message, its idempotency key: `<case id>:<event seq>:<index>`."""
    case_id: str = ""
    recipient: str = ""
    text: str = ""


class Result(StrEnum):
    delivered = "delivered"
    retry = "retry"
    rate_limited = "rate_limited"
    permanent = "permanent"


@dataclass(frozen=True)
class Outcome:
    result: Result
    detail: str = ""
    retry_after: float | None = None
    """Seconds the receiver asked us to wait (Retry-After, or the provider's own rate-limit window)."""
    reached: bool = True
    """Whether the provider may have taken the message, so that it counts toward the channel's rate limit (not
    for a refused connection or an HTTP error status)."""

    @classmethod
    def ok(cls) -> Outcome:
        return cls(Result.delivered)


class Provider(Protocol):
    name: str
    """The channel's name in policy (or "webhook")."""
    kind: str
    """wecom, dingtalk, sms or webhook."""

    async def send(self, http: httpx.AsyncClient, message: Message) -> Outcome: ...


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        seconds = at.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def short(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def http_outcome(resp: httpx.Response) -> Outcome | None:
    """The outcome an HTTP status decides; None for a 2xx, whose body the provider reads."""
    status = resp.status_code
    if 200 <= status < 300:
        return None
    detail = short(f"HTTP {status}: {resp.text}")
    wait = retry_after(resp.headers.get("retry-after"))
    if status == 429:
        return Outcome(Result.rate_limited, detail, wait, reached=False)
    if status == 408 or status >= 500:
        return Outcome(Result.retry, detail, wait, reached=False)
    return Outcome(Result.permanent, detail, reached=False)


async def post(http: httpx.AsyncClient, url: str, **kwargs: object) -> httpx.Response | Outcome:
    """POST, with every transport failure (timeout, refused or closed connection) as a retry outcome."""
    try:
        return await http.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.ConnectError as err:
        return Outcome(Result.retry, short(f"connection: {type(err).__name__}: {err}"), reached=False)
    except httpx.TimeoutException as err:
        return Outcome(Result.retry, f"timeout: {type(err).__name__}")
    except httpx.TransportError as err:
        return Outcome(Result.retry, short(f"connection: {type(err).__name__}: {err}"))


def json_body(resp: httpx.Response) -> dict[str, object] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def fit(text: str, max_bytes: int) -> str:
    """`text` cut to the provider's byte limit (UTF-8), marked as cut."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text
    return raw[: max_bytes - 3].decode(errors="ignore") + "…"


def title(text: str) -> str:
    """The 【…】 head of a notice, for markdown and DingTalk titles."""
    if text.startswith("【") and "】" in text:
        return text[: text.index("】") + 1]
    return "【通知】"


# The characters robots' markdown reads as markup, each as its full-width twin: a notice carries residents' and
# units' words (titles, reasons), which must show as written, not as a link, an image, a heading or a colour.
# Full-width, not backslash escapes, because WeCom's markdown does not honour escapes.
MARKDOWN_INERT = str.maketrans("[]()!*#<>`_~", "［］（）！＊＃＜＞｀＿～")


def markdown(text: str) -> str:
    head = title(text)
    rest = text[len(head) :] if text.startswith(head) else text
    return f"**{head}**{rest.translate(MARKDOWN_INERT)}"


class Webhook:
    """The generic webhook: every notice as JSON, with its key and an HMAC-SHA256 signature of the body.

    Headers: `Idempotency-Key: <key>`, `X-Whistle-Timestamp: <unix seconds>`, `X-Whistle-Signature:
    sha256=<hex of HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<body>")>`, so a receiver can verify it and
    refuse a replay.
    """

    name = kind = "webhook"

    def __init__(self, url: str, secret: str) -> None:
        self.url, self.secret = url, secret.encode()

    def sign(self, timestamp: str, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    async def send(self, http: httpx.AsyncClient, message: Message) -> Outcome:
        body = json.dumps(
            {"id": message.key, "case_id": message.case_id, "recipient": message.recipient, "text": message.text},
            ensure_ascii=False,
        ).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "X-Whistle-Timestamp": stamp,
            "X-Whistle-Signature": self.sign(stamp, body),
        }
        resp = await post(http, self.url, content=body, headers=headers)
        if isinstance(resp, Outcome):
            return resp
        return http_outcome(resp) or Outcome.ok()
