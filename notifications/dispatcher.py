"""The notification dispatcher: a process beside the worker that delivers the outbox, so that no receiver
ever holds a case back.

Each round it routes new messages to their channels, claims the heads of free lanes under a lease, and sends
them concurrently; a lane (case, recipient, channel) is sent strictly in order, so a message waits for the one
before it (delivered or dead). Failures back off exponentially (with jitter) or as the receiver's Retry-After
says; rate limits pause the channel in this process and do not count toward the policy's limit; a permanent
failure, or too many, leaves the message dead until a supervisor resends it. Delivery is at least once: a
dispatcher killed after sending and before confirming leaves its claim to expire, and the next send of that
message is counted as a possible duplicate; receivers deduplicate on the message's key.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from notifications import metrics
from notifications.channels import Channels
from notifications.outbox import DEAD, DELIVERED, NO_CHANNEL, Claimed, Outbox
from notifications.policy import Delivery, RateLimit
from notifications.providers import Message, Outcome, Result

log = structlog.get_logger(__name__)


def backoff(failures: int, policy: Delivery, rng: random.Random) -> float:
    """Seconds before the next attempt after `failures` failed ones: exponential, capped, with equal jitter."""
    delay = min(policy.max_delay_seconds, policy.first_delay_seconds * policy.multiplier ** max(failures - 1, 0))
    return delay * rng.uniform(0.5, 1.0)


class RateWindow:
    """A channel's sends in the provider's window, and a pause when the provider said "too fast"."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.sent: deque[float] = deque()
        self.paused_until = 0.0

    def available(self, now: float) -> int:
        if now < self.paused_until:
            return 0
        while self.sent and self.sent[0] <= now - self.limit.per_seconds:
            self.sent.popleft()
        return max(0, self.limit.messages - len(self.sent))

    def unsend(self, at: float) -> None:
        """A send the provider never took gives its place in the window back."""
        try:
            self.sent.remove(at)
        except ValueError:  # already out of the window
            pass

    def pause(self, now: float, seconds: float | None) -> None:
        self.paused_until = max(self.paused_until, now + (seconds or self.limit.pause_seconds))


class NotificationDispatcher:
    def __init__(
        self,
        outbox: Outbox,
        channels: Channels,
        *,
        concurrency: int = 16,
        poll_seconds: float = 0.5,
    ) -> None:
        self.outbox, self.channels = outbox, channels
        self.policy = channels.policy.delivery
        self.concurrency, self.poll = concurrency, poll_seconds
        self.per_channel = max(1, concurrency // 2)
        self.windows = {name: RateWindow(limit) for name, limit in channels.limits.items()}
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.rng = random.Random()
        self.inflight: dict[asyncio.Task[None], str] = {}
        self.stopping = asyncio.Event()
        self._claims = 0

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        log.info("notification_dispatcher_started", identity=self.identity, channels=sorted(self.channels.providers))
        timeout = httpx.Timeout(self.policy.timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            half = max(1, self.concurrency // 2)
            while not self.stopping.is_set():
                # Claims go in batches: the next once half the slots are free, so a batch costs one claim.
                try:
                    claimed = await self.round(http) if len(self.inflight) <= self.concurrency - half else 0
                except Exception:  # the database away for a moment: nothing is lost, try again after the poll
                    log.exception("notification_round_failed")
                    claimed = 0
                if self.stopping.is_set():
                    break
                waiters: set[asyncio.Future[Any]] = {*self.inflight, asyncio.ensure_future(self.stopping.wait())}
                # Straight on when there is room and work; else until a send ends, the poll interval, or stop.
                if not claimed or len(self.inflight) > self.concurrency - half:
                    await asyncio.wait(waiters, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    if w not in self.inflight and not w.done():
                        w.cancel()
            if self.inflight:
                await asyncio.wait(self.inflight, timeout=self.policy.timeout_seconds + 1)
        log.info("notification_dispatcher_stopped", identity=self.identity)

    async def round(self, http: httpx.AsyncClient) -> int:
        """Route what is new, claim what fits, start sending it; returns how many were claimed."""
        now = datetime.now(UTC)
        await asyncio.to_thread(self.outbox.route, self.channels.route, now)
        free = self.concurrency - len(self.inflight)
        if free <= 0:
            return 0
        clock = asyncio.get_running_loop().time()
        busy: dict[str, int] = defaultdict(int)
        for channel in self.inflight.values():
            busy[channel] += 1
        budget = {
            name: min(
                self.per_channel - busy[name], self.windows[name].available(clock) if name in self.windows else free
            )
            for name in self.channels.providers
        }
        exclude = [name for name, left in budget.items() if left <= 0]
        self._claims += 1
        token = f"{self.identity}:{self._claims}"
        until = now + timedelta(seconds=self.policy.lease_seconds)
        claimed = await asyncio.to_thread(self.outbox.claim, token, now, until, free, exclude)
        send: list[Claimed] = []
        extra: list[int] = []
        for c in claimed:
            if budget.get(c.channel, 1) <= 0:
                extra.append(c.id)
                continue
            budget[c.channel] = budget.get(c.channel, 1) - 1
            send.append(c)
        if not claimed:
            return 0
        # One write for the batch: sends are marked begun before any is posted.
        await asyncio.to_thread(self.outbox.start, token, datetime.now(UTC), [c.id for c in send], extra)
        for c in send:
            if c.channel in self.windows:
                self.windows[c.channel].sent.append(clock)
            task = asyncio.create_task(self.deliver(http, token, c, clock))
            self.inflight[task] = c.channel
            task.add_done_callback(self._done)
        return len(send)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("notification_send_crashed", error=repr(task.exception()))

    async def deliver(self, http: httpx.AsyncClient, token: str, c: Claimed, sent_at: float) -> None:
        provider = self.channels.providers.get(c.channel)
        kind = provider.kind if provider else "none"
        if c.unconfirmed:
            metrics.RESENT.labels(provider=kind).inc()
            log.warning("notification_resent_unconfirmed", case_id=c.case_id, key=c.key, channel=c.channel)
        if provider is None:
            # The policy dropped or renamed the channel since the message was routed: as a message no channel
            # serves, it waits visibly, and a resend routes it anew (on the same channel it would die again).
            detail = f"channel {c.channel!r} is no longer configured"
            ours = await asyncio.to_thread(self.outbox.finish, token, c.id, state=NO_CHANNEL, last_error=detail)
            metrics.SENDS.labels(provider=kind, outcome=NO_CHANNEL).inc()
            log.warning("notification_channel_gone", case_id=c.case_id, key=c.key, channel=c.channel, confirmed=ours)
            return
        message = Message(key=c.key, case_id=c.case_id, recipient=c.recipient, text=c.text)
        try:
            # httpx's timeout is per phase (connect, each read); this bounds the whole send, within the lease.
            outcome = await asyncio.wait_for(provider.send(http, message), self.policy.timeout_seconds)
        except TimeoutError:
            outcome = Outcome(Result.retry, "timeout: the whole send")
        except Exception as err:  # a provider's bug must not stop the dispatcher; the message waits and retries
            log.exception("notification_provider_error", channel=c.channel, key=c.key)
            outcome = Outcome(Result.retry, f"provider error: {type(err).__name__}")
        window = self.windows.get(c.channel)
        if window is not None and not outcome.reached:
            window.unsend(sent_at)
        await self.record(token, c, kind, outcome)

    async def record(self, token: str, c: Claimed, kind: str, outcome: Outcome) -> None:
        now = datetime.now(UTC)
        fields: dict[str, object]
        label = outcome.result.value
        if outcome.result is Result.delivered:
            fields = {"state": DELIVERED, "delivered_at": now}
        elif outcome.result is Result.rate_limited:
            window = self.windows.get(c.channel)
            if window is not None:
                window.pause(asyncio.get_running_loop().time(), outcome.retry_after)
            wait = (
                outcome.retry_after
                if outcome.retry_after is not None
                else backoff(c.failures + 1, self.policy, self.rng)
            )
            fields = {"next_at": now + timedelta(seconds=wait), "last_error": outcome.detail}
        elif outcome.result is Result.retry and c.failures + 1 < self.policy.max_attempts:
            wait = (
                outcome.retry_after
                if outcome.retry_after is not None
                else backoff(c.failures + 1, self.policy, self.rng)
            )
            fields = {
                "next_at": now + timedelta(seconds=wait),
                "failures": c.failures + 1,
                "last_error": outcome.detail,
            }
        else:
            label = "dead"
            fields = {"state": DEAD, "dead_at": now, "failures": c.failures + 1, "last_error": outcome.detail}
        ours = await asyncio.to_thread(self.outbox.finish, token, c.id, **fields)
        metrics.SENDS.labels(provider=kind, outcome=label).inc()
        if outcome.result is Result.delivered and ours:
            metrics.LAG.labels(provider=kind).observe(max(0.0, (now - c.created_at).total_seconds()))
        event = {"delivered": "notification_delivered", "dead": "notification_dead"}.get(label, "notification_retry")
        log.log(
            40 if label == "dead" else 20,
            event,
            case_id=c.case_id,
            key=c.key,
            channel=c.channel,
            outcome=label,
            detail=outcome.detail or None,
            confirmed=ours,
        )
