"""`python -m notifications`: the notification dispatcher, as `make run` starts it beside the worker.

Any number may run against one database (leases keep them from sending the same message at once); SIGTERM
or Ctrl-C lets the sends in flight finish.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import structlog
from prometheus_client import start_http_server

import logs
from config import Settings, settings
from notifications.channels import MissingSecret, build_channels
from notifications.dispatcher import NotificationDispatcher
from notifications.metrics import REGISTRY
from notifications.outbox import Outbox
from policy import PolicyError, load_policy
from store.db import engine_for

log = structlog.get_logger("notifications")


def build_dispatcher(cfg: Settings) -> NotificationDispatcher:
    """Fails with MissingSecret or PolicyError, naming the setting or the field, before anything is sent."""
    load_policy(cfg.policy_dir)
    channels = build_channels(cfg)
    outbox = Outbox(engine_for(cfg.database_url))
    return NotificationDispatcher(
        outbox, channels, concurrency=cfg.notify_concurrency, poll_seconds=cfg.notify_poll_seconds
    )


async def serve(dispatcher: NotificationDispatcher) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, dispatcher.stop)
    await dispatcher.run()


def main() -> int:
    logs.configure(json=settings.log_json)
    try:
        dispatcher = build_dispatcher(settings)
    except (MissingSecret, PolicyError) as err:
        log.error("notification_dispatcher_not_started", error=str(err))
        print(f"notification dispatcher: {err}", file=sys.stderr)  # noqa: T201 - the operator must see what to set
        return 2
    if settings.notify_metrics_port:
        start_http_server(settings.notify_metrics_port, registry=REGISTRY)
    # On a machine it shares with the worker and the Temporal server, delivery waits for the CPU they need:
    # a burst of escalations goes out on time, and its notices a little after.
    os.nice(settings.notify_nice)
    asyncio.run(serve(dispatcher))
    return 0


if __name__ == "__main__":
    sys.exit(main())
