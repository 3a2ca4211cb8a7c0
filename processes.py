"""Serving in several processes: Python runs workflow code on one core per process, so a worker uses a machine's
cores by running a process on each. Standard library and structlog only, so that a bare benchmark worker
(bench/timer_baseline.py) can use it without loading the engine.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import structlog

log = structlog.get_logger(__name__)


def die_with_parent() -> None:  # pragma: no cover - runs in a child process
    """Linux: have the kernel SIGTERM this (child) process when its parent dies without stopping it (no orphans)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def run_processes(target: Callable[[], None], processes: int) -> None:
    """Run `target` (picklable, serves until stopped) in this process and in `processes - 1` more.

    The others start fresh (spawned, so no copy of this process's Temporal runtime or database connections) and
    die with this one; if one of them exits, this one exits too, so whatever supervises the worker sees it.
    """
    context = multiprocessing.get_context("spawn")
    others = [
        context.Process(target=_child, args=(target, os.getpid()), name=f"worker-{i}", daemon=True)
        for i in range(1, processes)
    ]
    for process in others:
        process.start()
    if others:
        threading.Thread(target=_exit_with, args=(others,), name="worker-watch", daemon=True).start()
    target()


def _child(target: Callable[[], None], parent: int) -> None:  # pragma: no cover - runs in a child process
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the kernel was told
        return
    target()


def _exit_with(others: list[BaseProcess]) -> None:
    ready = multiprocessing.connection.wait([p.sentinel for p in others])
    # By its sentinel, not is_alive(): the sentinel closes a moment before the process can be reaped.
    gone = next(p for p in others if p.sentinel in ready)
    gone.join(5)
    log.error("worker_process_exited", process=gone.name, pid=gone.pid, code=gone.exitcode)
    os._exit(1)  # the remaining processes get SIGTERM from the kernel (die_with_parent)
