"""The dispatcher against local receivers: order per recipient, faults, rate limits, dead letters, resends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from structlog.testing import capture_logs

from models.tables import NotificationRow, ReporterRow, RevealAudit
from models.timeline import Message
from notifications.channels import build_channels
from notifications.outbox import Outbox
from store.db import engine_for
from store.vault import ReporterVault, vault_row
from tests.notifications.conftest import all_in, dispatching, entries, policy_dir, queue, settings_for, wait_for
from tests.notifications.receivers import Receivers, policy_toml

PHONE = "13912345678"


def grid_notices(n: int, start: int = 1) -> list[tuple[int, Message]]:
    return [(seq, Message(to="grid-a1-1", text=f"【催办】第{seq}条")) for seq in range(start, start + n)]


async def test_a_failing_receiver_holds_only_its_lane_and_on_recovery_all_arrive_in_order(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base)
    engine = engine_for(cfg.database_url)
    state.fail = "500"
    queue(engine, "case-a", [*grid_notices(5), (6, Message(to="supervisor", text="【督办】超期"))])
    async with dispatching(cfg):
        await wait_for(
            lambda: all(
                e.attempts >= 2
                for e in entries(cfg, "case-a")
                if e.recipient == "grid-a1-1" and e.text.endswith("第1条")
            )
        )
        grid = [e for e in entries(cfg, "case-a") if e.recipient == "grid-a1-1"]
        # The lane waits for its head: only the first message was tried.
        assert [e.attempts > 0 for e in grid] == [True, False, False, False, False]
        assert not state.received
        queue(engine, "case-a", grid_notices(3, start=7))
        state.fail = None
        await wait_for(lambda: all_in(cfg, "case-a", "delivered"))
    texts = [r.body["markdown"]["content"] for r in state.on("wecom")]
    assert texts == [f"**【催办】**第{seq}条" for seq in (1, 2, 3, 4, 5, 7, 8, 9)]
    assert len(state.on("dingtalk")) == 1 and not state.refused  # signed correctly, once
    assert Outbox(engine).counts(datetime.now(UTC))["retries"] >= 1


async def test_a_400_is_dead_at_once_visible_and_a_resend_delivers_it(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base)
    engine = engine_for(cfg.database_url)
    state.fail = "400"
    queue(engine, "case-b", grid_notices(2))
    async with dispatching(cfg):
        dead = await wait_for(lambda: [e for e in entries(cfg, "case-b") if e.state == "dead"])
        assert dead[0].attempts == 1 and "HTTP 400" in (dead[0].last_error or "")
        # the dead head no longer holds its lane: the next message is tried too (and dies the same way)
        await wait_for(lambda: all_in(cfg, "case-b", "dead"))
        state.fail = None
        outbox = Outbox(engine)
        for e in entries(cfg, "case-b"):
            assert outbox.resend("case-b", e.notification_id, datetime.now(UTC)) == 1
        await wait_for(lambda: all_in(cfg, "case-b", "delivered"))
    assert len(state.on("wecom")) == 2
    assert Outbox(engine).resend("case-b", 10_000, datetime.now(UTC)) is None


async def test_retries_end_in_a_dead_letter_after_the_policy_limit(tmp_path: Path, rx: tuple[Receivers, str]) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base, max_attempts=3)
    state.fail = "500"
    queue(engine_for(cfg.database_url), "case-c", grid_notices(1))
    async with dispatching(cfg):
        (e,) = await wait_for(lambda: all_in(cfg, "case-c", "dead") and entries(cfg, "case-c"))
    assert e.attempts == 3 and "HTTP 500" in (e.last_error or "")


async def test_wecom_rate_limit_code_pauses_the_robot_without_failing_messages(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    state, base = rx
    # The robot is shared with another system: it lets this one send only 3 a minute, fewer than policy plans.
    state.wecom_per_minute = 3
    limit = "rate_limit = { messages = 20, per_seconds = 60, pause_seconds = 0.3 }"
    cfg = settings_for(tmp_path, base, wecom_limit=limit, max_attempts=1)
    queue(engine_for(cfg.database_url), "case-d", grid_notices(5))
    async with dispatching(cfg):
        await wait_for(lambda: [r for r in state.refused if r == ("wecom", "rate")])
        state.wecom_per_minute = 100  # the minute has passed
        await wait_for(lambda: all_in(cfg, "case-d", "delivered"))
    # errcode 45009 is a rate limit, not a failure: with max_attempts = 1 nothing died.
    assert [r.body["markdown"]["content"] for r in state.on("wecom")] == [
        f"**【催办】**第{seq}条" for seq in range(1, 6)
    ]


async def test_429_retry_after_is_honoured(tmp_path: Path, rx: tuple[Receivers, str]) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base)
    state.fail, state.retry_after = "429", "2"
    queue(engine_for(cfg.database_url), "case-e", grid_notices(1))
    async with dispatching(cfg):
        # the 429 recorded (while the send is in flight the message has its attempt but not yet its outcome)
        (e,) = await wait_for(lambda: [e for e in entries(cfg, "case-e") if e.attempts == 1 and e.last_error])
        assert e.next_at is not None and 1.5 < (e.next_at - datetime.now(UTC)).total_seconds() <= 2.1
        state.fail = None
        await wait_for(lambda: all_in(cfg, "case-e", "delivered"))
    (e,) = entries(cfg, "case-e")
    assert e.attempts == 2 and e.delivered_at is not None and (e.delivered_at - e.created_at).total_seconds() >= 1.5


async def test_a_receiver_that_times_out_is_retried(tmp_path: Path, rx: tuple[Receivers, str]) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base, timeout="0.3", lease="2.0")
    state.fail = "timeout"
    queue(engine_for(cfg.database_url), "case-f", grid_notices(1))
    async with dispatching(cfg):
        (e,) = await wait_for(lambda: [e for e in entries(cfg, "case-f") if e.attempts >= 1 and e.last_error])
        assert "timeout" in (e.last_error or "")
        state.fail = None
        state.release.set()
        await wait_for(lambda: all_in(cfg, "case-f", "delivered"))


async def test_a_recipient_without_a_channel_stays_visible_as_no_channel(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    _, base = rx
    cfg = settings_for(tmp_path, base)
    engine = engine_for(cfg.database_url)
    queue(
        engine,
        "case-g",
        [(1, Message(to="dept-police", text="【吹哨】请按时报到")), (2, Message(to="reporter", text="x"))],
    )
    async with dispatching(cfg):
        found = await wait_for(lambda: all_in(cfg, "case-g", "no_channel") and entries(cfg, "case-g"))
    assert [(e.recipient, e.channel) for e in found] == [("dept-police", None), ("reporter:anonymous", None)]
    counts = Outbox(engine).counts(datetime.now(UTC))
    assert counts["no_channel"] == 2 and counts["pending"] == 0 and counts["queued"] == 0


async def test_sms_reaches_the_reporter_s_phone_and_nothing_else_holds_it(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base, webhook=True)
    engine = engine_for(cfg.database_url)
    sealed = ReporterVault(engine, cfg.vault_key).seal(name="张三", phone=PHONE, confidential=True)
    with engine.begin() as conn:
        conn.execute(ReporterRow.__table__.insert(), vault_row("case-h", sealed))  # type: ignore[attr-defined]
    ref = sealed.reference()
    queue(engine, "case-h", [(3, Message(to="reporter", text="您反映的问题已办结，请评价"))], ref.ref)
    with capture_logs() as logs:
        async with dispatching(cfg):
            await wait_for(lambda: all_in(cfg, "case-h", "delivered"))
    (sms,) = state.on("sms")
    assert sms.body["phone"] == PHONE and sms.body["message_id"] == sms.key == "case-h:3:0"
    assert sms.body["sign_name"] == "东城区12345"
    # the webhook gets the notice too, addressed by vault reference
    (hook,) = state.on("hook")
    assert hook.body["recipient"] == f"reporter:{ref.ref}" and PHONE not in str(hook.body)
    assert PHONE not in str(logs)
    with engine.connect() as conn:
        outbox = [tuple(r) for r in conn.execute(NotificationRow.__table__.select())]  # type: ignore[attr-defined]
    assert outbox and PHONE not in str(outbox) and PHONE not in str(entries(cfg, "case-h"))
    with engine.connect() as conn:
        audit = conn.execute(RevealAudit.__table__.select()).all()  # type: ignore[attr-defined]
    assert [(a.case_id, a.actor, a.request_id) for a in audit] == [("case-h", "notifications:sms", "case-h:3:0")]


async def test_two_dispatchers_never_send_one_message_twice(tmp_path: Path, rx: tuple[Receivers, str]) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base, webhook=True)
    engine = engine_for(cfg.database_url)
    for case in range(20):
        queue(engine, f"case-{case}", [(seq, Message(to="dept-police", text=f"第{seq}条")) for seq in range(1, 6)])
    async with dispatching(cfg), dispatching(cfg):
        await wait_for(
            lambda: len(state.on("hook")) >= 100 and Outbox(engine).counts(datetime.now(UTC))["pending"] == 0
        )
    keys = state.keys("hook")
    assert len(keys) == len(set(keys)) == 100 and not state.refused
    for case in range(20):  # in order within each case
        assert [k for k in keys if k.startswith(f"case-{case}:")] == [f"case-{case}:{seq}:0" for seq in range(1, 6)]


async def test_a_message_left_on_a_channel_the_policy_dropped_goes_on_its_new_channel_when_resent(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    """A city renames a channel while messages wait on the old one: they stay visible (no_channel) and a resend
    routes them anew, instead of queueing them on the dropped channel to die again."""
    state, base = rx
    old = settings_for(tmp_path / "old", base)
    engine = engine_for(old.database_url)
    queue(engine, "case-r", grid_notices(1))
    Outbox(engine).route(build_channels(old).route, datetime.now(UTC))
    assert [e.channel for e in entries(old, "case-r")] == ["wecom-comm-a1"]
    renamed = policy_toml(base).replace("[channels.wecom-comm-a1]", "[channels.wecom-grids]")
    new = old.model_copy(update={"policy_dir": policy_dir(tmp_path / "new", renamed)})
    async with dispatching(new):
        (left,) = await wait_for(lambda: [e for e in entries(new, "case-r") if e.state != "pending"])
        assert left.state == "no_channel" and "no longer configured" in (left.last_error or "")
        assert Outbox(engine).resend("case-r", left.notification_id, datetime.now(UTC)) == 1
        (done,) = await wait_for(lambda: all_in(new, "case-r", "delivered") and entries(new, "case-r"))
    assert done.channel == "wecom-grids" and len(state.on("wecom")) == 1
