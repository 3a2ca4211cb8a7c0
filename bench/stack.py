"""What the escalation, intake and live-case benchmarks share: the short-limit policy, the worker and API as
processes of their own (so their RSS and CPU are theirs, and they do not share the load generator's GIL; the
worker's figures sum its WORKER_PROCESSES processes), starting many cases at once, and reading the read model."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.common import percentile, rss_bytes
from config import ROOT, settings
from models.intake import Intake, Location
from models.policy import Policy, Urgency
from policy import FILES, POLICY_DIR, load_policy
from scripts.temporal_dev import spawn, stop_process
from services.intake import start_workflow

SHORT_LIMITS = Path(__file__).resolve().parent / "short_limits.toml"
# street_vending: locality (goes to the grid), general class, no reply limit of its own, so the grid gets a
# tier slice of the general class.
CATEGORY = "street_vending"
GRID = "grid-a1-1"
COMMUNITY = "comm-a1"
CHANNEL = "bench"
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- policy


def short_policy_dir(tmp: Path, grid_seconds: float | None = None, **class_grid_seconds: float) -> Path:
    """policy/*.toml copied into `tmp/policy`, with bench/short_limits.toml as limits.toml.

    `grid_seconds` replaces the general class's grid slice (1 minute in the file); `time_sensitive=600.0` and
    the like replace another class's. The copy is loaded once here, so a broken file fails before any server
    starts.
    """
    dest = tmp / "policy"
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(POLICY_DIR / name, dest / name)
    text = SHORT_LIMITS.read_text(encoding="utf-8")
    slices = dict(class_grid_seconds)
    if grid_seconds is not None:
        slices["general"] = grid_seconds
    for klass, seconds in slices.items():
        pattern = rf"^(\[limits\.{re.escape(klass)}\.tier_slices\]\n)grid = \{{[^}}\n]*\}}"
        line = f'grid = {{ amount = {seconds / 60!r}, unit = "minutes" }}'
        text, count = re.subn(pattern, r"\g<1>" + line, text, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"{SHORT_LIMITS}: no [limits.{klass}.tier_slices] starting with a grid line")
    (dest / "limits.toml").write_text(text, encoding="utf-8")
    load_policy(dest)
    return dest


# ---------------------------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def family(pid: int) -> list[int]:
    """`pid` and its child processes: a worker serving in several processes (processes.py)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


def family_cpu_seconds(pid: int) -> float:
    return sum(_or_zero(cpu_seconds, p) for p in family(pid))


def family_rss_bytes(pid: int) -> int:
    return int(sum(_or_zero(rss_bytes, p) for p in family(pid)))


def _or_zero(measure: Callable[[int], float], pid: int) -> float:
    try:
        return measure(pid)
    except OSError:  # the process ended after it was listed
        return 0


@contextmanager
def child(
    name: str, args: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process (output to `log`), dying with this one, stopped (SIGTERM, then SIGKILL) on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = spawn(list(args), stdout=out, env=env)
    try:
        yield proc
    finally:
        stop_process(proc, name)


PYCACHE = Path(tempfile.gettempdir()) / "whistle-bench-pycache"


def child_env() -> dict[str, str]:
    """This environment, but writing bytecode caches (to a directory of the benchmark's, not the repository).

    With PYTHONDONTWRITEBYTECODE and no __pycache__, the workflow sandbox would compile workflows/case.py from
    source for every workflow it instantiates or replays (measured: ~10% of a worker's time), which a normal
    installation does not.
    """
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        env.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))
    return env


def write_bytecode() -> None:
    """The same for this process (an in-process worker, as in bench/lifecycle.py), from now on."""
    if sys.dont_write_bytecode:
        sys.dont_write_bytecode = False
        sys.pycache_prefix = sys.pycache_prefix or str(PYCACHE)


def engine_env(address: str, queue: str, database_url: str, policy_dir: Path, **extra: str) -> dict[str, str]:
    """The environment `worker.py` and `api.main` read their Settings from (see config.py)."""
    env = child_env()
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE="default",
        TASK_QUEUE=queue,
        DATABASE_URL=database_url,
        POLICY_DIR=str(policy_dir),
        WEBHOOK_URL="",  # empty is ignored: no webhook (the outbox is written; nothing delivers it)
        LOG_JSON="1",
        ENVIRONMENT="development",
    )
    env.update(extra)
    return env


@contextmanager
def engine_worker(
    address: str, queue: str, database_url: str, policy_dir: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`python worker.py`, exactly as `make run` starts it, on its own task queue and database."""
    env = engine_env(address, queue, database_url, policy_dir)
    with child("worker", [sys.executable, str(ROOT / "worker.py")], log, env) as proc:
        yield proc


@contextmanager
def notification_dispatcher(
    database_url: str, policy_dir: Path, webhook_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m notifications`, as `make run` starts it, delivering every notice to `webhook_url`."""
    env = engine_env("", "", database_url, policy_dir, WEBHOOK_URL=webhook_url)
    with child("notifications", [sys.executable, "-m", "notifications"], log, env) as proc:
        yield proc


@contextmanager
def timer_worker(address: str, queue: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for the bare timer workflow only (bench/timer_baseline.py)."""
    args = [sys.executable, "-m", "bench.timer_baseline", "--address", address, "--task-queue", queue]
    with child("timer worker", args, log, child_env()) as proc:
        yield proc


@contextmanager
def api_server(
    address: str, queue: str, database_url: str, policy_dir: Path, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The API as `make run` starts it (uvicorn, one process), with the demo keys; no access log."""
    env = engine_env(address, queue, database_url, policy_dir, DEMO_KEYS="1", API_PORT=str(port))
    args = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    with child("api", [*args, "--log-level", "warning"], log, env) as proc:
        yield proc


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_for_poller(
    client: Client, queue: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90
) -> None:
    """Until every process of a worker (WORKER_PROCESSES) polls `queue`; fails at once if the worker exits."""
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with code {proc.returncode}:\n{log_tail(log)}")
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        if len({p.identity for p in resp.pollers}) >= settings.worker_processes:
            return
        if time.monotonic() > end:
            raise TimeoutError(f"{len(resp.pollers)} processes poll {queue} after {timeout:.0f}s:\n{log_tail(log)}")
        await asyncio.sleep(0.25)


async def wait_for_http(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90, headers: dict[str, str] | None = None
) -> None:
    end = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2, headers=headers) as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API exited with code {proc.returncode}:\n{log_tail(log)}")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise TimeoutError(f"{url} did not answer after {timeout:.0f}s:\n{log_tail(log)}")
            await asyncio.sleep(0.25)


async def workflow_backlog(client: Client, queue: str) -> int:
    """Workflow tasks waiting in `queue` (the server's approximate count)."""
    resp = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
        )
    )
    return int(resp.stats.approximate_backlog_count)


async def wait_idle(
    client: Client, queue: str, pid: int, *, timeout: float, window: float = 2.0, busy: float = 0.05
) -> float:
    """Until `queue` has no backlog and process `pid` with its children used less than `busy` of a core over
    `window` s.

    Returns the seconds waited (the caller's timeout raises).
    """
    started = time.monotonic()
    while True:
        before = family_cpu_seconds(pid)
        await asyncio.sleep(window)
        used = (family_cpu_seconds(pid) - before) / window
        if used < busy and await workflow_backlog(client, queue) == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"worker {pid} still busy ({used:.0%} of a core) after {timeout:.0f}s")


def db_bytes(path: Path) -> int:
    """A SQLite database's size on disk: the file, its WAL and shared-memory index."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


# ---------------------------------------------------------------------------------------------- cases


def intake(ticket: str, urgency: Urgency | None = None) -> Intake:
    """A street_vending case at the grid; `urgency` overrides its class (general) as a channel may."""
    return Intake(
        channel=CHANNEL,
        channel_ticket_id=ticket,
        category=CATEGORY,
        title="基准测试：占道经营",
        description="基准测试工单，时限由 bench/short_limits.toml 给出",
        location=Location(grid_id=GRID, address="测试地址"),
        urgency=urgency,
        reported_at=datetime.now(UTC),
    )


async def start_case(client: Client, queue: str, ticket: str, policy: Policy, urgency: Urgency | None = None) -> str:
    """Start one case's workflow with its policy snapshot, as the 受理 service does (without its look-up first)."""
    handle = await start_workflow(client, queue, intake(ticket, urgency), policy=policy)
    return handle.id


async def start_many(n: int, concurrency: int, start_one: Callable[[int], Awaitable[Any]]) -> float:
    """Start `n` things behind a barrier (all prepared, then released together), `concurrency` at a time.

    Returns the seconds from the release until the last start returned.
    """
    gate = asyncio.Event()
    sem = asyncio.Semaphore(concurrency)

    async def go(i: int) -> None:
        await gate.wait()
        async with sem:
            await start_one(i)

    tasks = [asyncio.create_task(go(i)) for i in range(n)]
    await asyncio.sleep(0)  # every task is parked at the gate
    started = time.perf_counter()
    gate.set()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- figures


def spread(values: list[float], digits: int = 3) -> dict[str, float | int]:
    """count, p50, p99, max (and min) of a list of seconds or milliseconds."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min": round(min(values), digits),
        "p50": round(percentile(values, 0.50), digits),
        "p99": round(percentile(values, 0.99), digits),
        "max": round(max(values), digits),
    }


def processes(n: int) -> str:
    return "one process" if n == 1 else f"{n} processes"


def mib(n: float) -> float:
    return round(n / 2**20, 1)
