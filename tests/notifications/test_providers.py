"""Each provider against a receiver that speaks its format: what it sends, and how it reads each answer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from notifications.dispatcher import RateWindow, backoff
from notifications.policy import Delivery, DingTalkChannel, RateLimit, WeComChannel
from notifications.providers import Message, Result, Webhook, markdown, retry_after
from notifications.robots import DingTalk, WeCom
from tests.notifications.receivers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    WEBHOOK_SECRET,
    WECOM_KEY,
    Receivers,
    closing_server,
)

MESSAGE = Message(key="case-1:4:0", case_id="case-1", recipient="grid-a1-1", text="【督办】case-1“垃圾”：签收已超期")


async def test_wecom_text_and_markdown_and_its_error_codes(rx: tuple[Receivers, str]) -> None:
    state, base = rx
    url = f"{base}/wecom/send"
    async with httpx.AsyncClient() as http:
        md = WeCom("g", WeComChannel(provider="wecom", key="k", url=url, recipients=("*",)), WECOM_KEY)
        assert (await md.send(http, MESSAGE)).result is Result.delivered
        text = WeCom(
            "g", WeComChannel(provider="wecom", key="k", url=url, recipients=("*",), msgtype="text"), WECOM_KEY
        )
        assert (await text.send(http, MESSAGE)).result is Result.delivered
        assert [r.body["msgtype"] for r in state.on("wecom")] == ["markdown", "text"]
        assert state.on("wecom")[0].body["markdown"]["content"] == "**【督办】**case-1“垃圾”：签收已超期"
        wrong = WeCom("g", WeComChannel(provider="wecom", key="k", url=url, recipients=("*",)), "not-the-key")
        out = await wrong.send(http, MESSAGE)
        assert out.result is Result.permanent and "errcode 93000" in out.detail
        state.wecom_per_minute = 2
        out = await md.send(http, MESSAGE)
        assert out.result is Result.rate_limited and "45009" in out.detail and out.retry_after == 60
        # an over-long text is cut to the robot's 2048 bytes rather than refused
        long = Message(key="k", case_id="c", recipient="r", text="长" * 1500)
        state.wecom_per_minute = 100
        assert (await text.send(http, long)).result is Result.delivered
        assert len(state.on("wecom")[-1].body["text"]["content"].encode()) <= 2048


async def test_dingtalk_signs_its_url_and_a_wrong_secret_is_refused(rx: tuple[Receivers, str]) -> None:
    state, base = rx
    channel = DingTalkChannel(
        provider="dingtalk", token="t", secret="s", url=f"{base}/dingtalk/send", recipients=("*",)
    )
    async with httpx.AsyncClient() as http:
        assert (
            await DingTalk("d", channel, DINGTALK_TOKEN, DINGTALK_SECRET).send(http, MESSAGE)
        ).result is Result.delivered
        (got,) = state.on("dingtalk")
        assert got.body == {
            "msgtype": "markdown",
            "markdown": {"title": "【督办】", "text": "**【督办】**case-1“垃圾”：签收已超期"},
        }
        out = await DingTalk("d", channel, DINGTALK_TOKEN, "SECwrong").send(http, MESSAGE)
    assert out.result is Result.permanent and "310000" in out.detail and state.refused == [("dingtalk", "sign")]


async def test_webhook_faults_read_as_retry_rate_limit_or_permanent(rx: tuple[Receivers, str]) -> None:
    state, base = rx
    hook = Webhook(f"{base}/hook", WEBHOOK_SECRET)
    async with httpx.AsyncClient(timeout=0.3) as http:
        assert (await hook.send(http, MESSAGE)).result is Result.delivered
        assert state.on("hook")[0].key == "case-1:4:0" and state.on("hook")[0].body["id"] == "case-1:4:0"
        assert (await Webhook(f"{base}/hook", "other").send(http, MESSAGE)).result is Result.permanent  # 401
        state.fail = "500"
        assert (await hook.send(http, MESSAGE)).result is Result.retry
        state.fail, state.retry_after = "429", "7"
        out = await hook.send(http, MESSAGE)
        assert out.result is Result.rate_limited and out.retry_after == 7
        state.fail = "400"
        assert (await hook.send(http, MESSAGE)).result is Result.permanent
        state.fail = "timeout"
        out = await hook.send(http, MESSAGE)
        assert out.result is Result.retry and out.detail.startswith("timeout")
        async with closing_server() as closing:
            out = await Webhook(f"{closing}/hook", WEBHOOK_SECRET).send(http, MESSAGE)
        assert out.result is Result.retry and "connection" in out.detail
        out = await Webhook("http://127.0.0.1:9/hook", WEBHOOK_SECRET).send(http, MESSAGE)  # nothing listens
        assert out.result is Result.retry


def test_retry_after_takes_seconds_or_a_date_and_backoff_grows_to_its_cap() -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert retry_after("120") == 120 and retry_after(None) is None and retry_after("soon") is None
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now.timestamp()) == 30
    assert retry_after("-5") == 0 and retry_after("99999999") == 24 * 3600
    policy = Delivery(first_delay_seconds=1, max_delay_seconds=10, multiplier=2)
    rng = random.Random(1)
    delays = [backoff(n, policy, rng) for n in (1, 2, 3, 4, 5, 6)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4 and all(d <= 10 for d in delays)
    assert delays[5] >= 5


def test_the_rate_window_counts_sends_and_pauses() -> None:
    window = RateWindow(RateLimit(messages=2, per_seconds=60, pause_seconds=600))
    assert window.available(0) == 2
    window.sent.extend([0.0, 1.0])
    assert window.available(30) == 0 and window.available(60.5) == 1
    window.pause(61, None)
    assert window.available(100) == 0 and window.available(662) == 2


def test_a_residents_words_in_a_markdown_notice_render_as_words_not_markup() -> None:
    """A title or reason is the resident's or a unit's text: in a robot's markdown it must not become a link, an
    image, a heading or coloured text in the group."""
    words = '[点此处理](http://evil.example) ![x](http://evil.example/a.png) **急** <font color="red">'
    text = f"【新工单】case-1“{words}”"
    shown = markdown(text + "\n# 标题\n> 引用 `代码` _斜体_ ~删除~")
    assert shown.startswith("**【新工单】**")
    rest = shown.removeprefix("**【新工单】**")
    assert not set(rest) & set("[]()!*#<>`_~"), rest
    assert "点此处理" in rest and "http://evil.example" in rest  # the words stay readable
