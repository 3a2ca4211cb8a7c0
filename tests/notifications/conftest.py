"""Receivers, a policy that points at them, and a dispatcher over a database of the test's own."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from activities.notify import Notifier
from config import Settings
from models.timeline import Message
from notifications.__main__ import build_dispatcher
from notifications.dispatcher import NotificationDispatcher
from notifications.outbox import Entry, Outbox
from policy import FILES, POLICY_DIR
from store.db import engine_for
from tests.notifications.receivers import SECRETS, WEBHOOK_SECRET, Receivers, policy_toml, receivers


@pytest_asyncio.fixture
async def rx() -> AsyncIterator[tuple[Receivers, str]]:
    async with receivers() as pair:
        yield pair


def policy_dir(folder: Path, notifications: str) -> Path:
    """The shipped policy with `notifications` as its notifications.toml."""
    dest = folder / "policy"
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(POLICY_DIR / name, dest / name)
    (dest / "notifications.toml").write_text(notifications, encoding="utf-8")
    return dest


def settings_for(folder: Path, base: str, *, webhook: bool = False, **policy: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'cases.db'}",
        policy_dir=policy_dir(folder, policy_toml(base, **policy)),
        webhook_url=f"{base}/hook" if webhook else None,
        webhook_secret=SecretStr(WEBHOOK_SECRET),
        notify_secrets={k: SecretStr(v) for k, v in SECRETS.items()},
        notify_poll_seconds=0.05,
        notify_concurrency=8,
    )


@asynccontextmanager
async def dispatching(cfg: Settings) -> AsyncIterator[NotificationDispatcher]:
    dispatcher = build_dispatcher(cfg)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await asyncio.wait_for(task, 10)


def queue(engine: Engine, case_id: str, notices: list[tuple[int, Message]], reporter_ref: str | None = None) -> None:
    """Outbox rows as the case's `record` activity writes them."""
    with engine.begin() as conn:
        Notifier(engine).queue(conn, case_id, notices, reporter_ref)


async def wait_for(what: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """Poll `what` until it is truthy (returns it); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(what)
        if value:
            return value
        assert time.monotonic() < deadline, f"not reached within {timeout} s"
        await asyncio.sleep(every)


def entries(cfg: Settings, case_id: str) -> list[Entry]:
    return Outbox(engine_for(cfg.database_url)).for_case(case_id)


def all_in(cfg: Settings, case_id: str, *states: str) -> bool:
    found = entries(cfg, case_id)
    return bool(found) and all(e.state in states for e in found)
