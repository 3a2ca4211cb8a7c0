"""Delivery throughput: M messages already in the outbox (as a backlog after a receiver's outage), the
notification dispatcher started as `make run` starts it, against a webhook receiver on this machine; how fast
is the backlog delivered, how late is each message, is any lost or doubled?

Messages spread over `cases` cases, each to three recipients, so lanes are many (each lane is sent in order,
one message at a time). Lag counts from the message's writing, so it includes the wait in the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.notify import Notifier
from bench.common import report
from bench.read_model import delivery_figures, sqlite_path, wait_rows
from bench.receiver import webhook_receiver
from bench.stack import notification_dispatcher, short_policy_dir
from config import settings
from models.timeline import Message
from store.db import engine_for

RECIPIENTS = ("grid-a1-1", "comm-a1", "supervisor")


def fill(database_url: str, messages: int, cases: int) -> None:
    engine = engine_for(database_url)
    notifier = Notifier(engine)
    per_case = max(1, messages // cases)
    with engine.begin() as conn:
        for case in range(cases):
            notices = [
                (seq, Message(to=RECIPIENTS[seq % 3], text=f"【催办】基准测试 {seq}")) for seq in range(per_case)
            ]
            notifier.queue(conn, f"bench-{case}", notices, None)


async def run(messages: int = 5000, cases: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp_name:
        tmp = Path(tmp_name)
        policy_dir = short_policy_dir(tmp)
        database_url = f"sqlite:///{tmp / 'cases.db'}"
        fill(database_url, messages, cases)
        db = sqlite_path(database_url)
        total = (messages // cases) * cases
        async with webhook_receiver() as (url, arrived):
            started = time.monotonic()
            with notification_dispatcher(database_url, policy_dir, url, tmp / "notifications.log"):
                done, waited = await wait_rows(
                    db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", total, timeout=600
                )
            took = time.monotonic() - started
        figures = delivery_figures(db)
    keys = [k for k, _ in arrived]
    return {
        "parameters": {"messages": total, "cases": cases, "lanes": cases * len(RECIPIENTS)},
        "settings": {"concurrency": settings.notify_concurrency, "poll_seconds": settings.notify_poll_seconds},
        "delivered": done,
        "received": len(keys),
        "received_twice": len(keys) - len(set(keys)),
        "drain_s": round(waited, 2),
        "took_s": round(took, 2),
        "per_second": round(done / waited, 1) if waited else None,
        "lag_s": figures["lag_s"],
        "measured_at": datetime.now(UTC).isoformat(),
    }


def summary(r: dict[str, Any]) -> str:
    p, lag = r["parameters"], r["lag_s"]
    return (
        "## Notification delivery throughput\n\n"
        f"{p['messages']} messages waiting in the outbox ({p['cases']} cases, {p['lanes']} lanes), then "
        f"`python -m notifications` (concurrency {r['settings']['concurrency']}) against a webhook receiver on this "
        "machine; SQLite outbox. Lag counts from each message's writing, so it includes its wait in the backlog.\n\n"
        "| figure | value |\n|---|---|\n"
        f"| delivered / queued | {r['delivered']} / {p['messages']} |\n"
        f"| received / received twice | {r['received']} / {r['received_twice']} |\n"
        f"| throughput (messages/s) | {r['per_second']} (backlog drained in {r['drain_s']} s) |\n"
        f"| lag p50 / p99 / max (s) | {lag.get('p50')} / {lag.get('p99')} / {lag.get('max')} |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    report("delivery", asyncio.run(run(args.messages, args.cases)), summary)


if __name__ == "__main__":
    main()
