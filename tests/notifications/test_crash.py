"""kill -9 of the dispatcher mid-batch: no notice lost; duplicates only with the same key, and counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from config import ROOT, Settings
from models.timeline import Message
from notifications.outbox import Outbox
from store.db import engine_for
from tests.notifications.conftest import entries, queue, settings_for, wait_for
from tests.notifications.receivers import SECRETS, WEBHOOK_SECRET, Receivers

CASES, PER_CASE = 6, 10
NICE = 7


def niceness(pid: int) -> int:
    # /proc/<pid>/stat: the 19th field is the nice value (the 2nd, the command, is in parentheses)
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def spawn(cfg: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`python -m notifications` as `make run` starts it, configured through the environment."""
    env = {
        **os.environ,
        "DATABASE_URL": cfg.database_url,
        "POLICY_DIR": str(cfg.policy_dir),
        "WEBHOOK_URL": cfg.webhook_url or "",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "NOTIFY_SECRETS": json.dumps(SECRETS),
        "NOTIFY_POLL_SECONDS": "0.05",
        "NOTIFY_CONCURRENCY": "4",
        "LOG_JSON": "1",
        "NOTIFY_NICE": str(NICE),
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "notifications"], cwd=ROOT, env=env, stdout=out, stderr=out)


async def test_a_dispatcher_killed_mid_batch_loses_nothing_and_duplicates_carry_their_key(
    tmp_path: Path, rx: tuple[Receivers, str]
) -> None:
    state, base = rx
    cfg = settings_for(tmp_path, base, webhook=True, timeout="2.0", lease="3.0")
    engine = engine_for(cfg.database_url)
    for case in range(CASES):
        notices = [(seq, Message(to="dept-police", text=f"第{seq}条")) for seq in range(1, PER_CASE + 1)]
        queue(engine, f"case-{case}", notices)
    written = [e.key for case in range(CASES) for e in entries(cfg, f"case-{case}")]

    state.hang_after = 15  # from the 15th message on, the receiver takes each and never answers
    first = spawn(cfg, tmp_path / "first.log")
    try:
        await wait_for(lambda: len(state.on("hook")) >= 15, timeout=60)
        # it yields the CPU to the worker and the server beside it (NOTIFY_NICE, on top of its parent's)
        assert niceness(first.pid) == min(19, os.nice(0) + NICE)
    finally:
        first.kill()  # SIGKILL: no clean-up, its claims and begun sends stay as they are
        first.wait()
    unanswered = set(state.unanswered)
    assert unanswered, "the dispatcher was killed with sends in flight"

    state.hang_after = None
    second = spawn(cfg, tmp_path / "second.log")
    try:
        await wait_for(lambda: Outbox(engine).counts(datetime.now(UTC))["delivered"] == len(written), timeout=60)
    finally:
        second.terminate()
        assert second.wait(20) == 0

    got = Counter(state.keys("hook"))
    assert set(got) == set(written), "no notice lost, none invented"
    twice = {k for k, n in got.items() if n > 1}
    # what the killed dispatcher had sent and never seen answered is sent again, under the same key
    assert unanswered <= twice and all(got[k] == 2 for k in twice)
    resent = {e.key for case in range(CASES) for e in entries(cfg, f"case-{case}") if e.resent}
    assert twice <= resent, "every duplicate is counted"
    assert Outbox(engine).counts(datetime.now(UTC))["resent"] == len(resent)
    for case in range(CASES):  # each case's messages still arrived in order (by their first arrival)
        firsts = list(dict.fromkeys(k for k in state.keys("hook") if k.startswith(f"case-{case}:")))
        assert firsts == [f"case-{case}:{seq}:0" for seq in range(1, PER_CASE + 1)]
