"""A worker serving in several processes: every one serves, a failed one stops the worker, none outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from config import ROOT
from processes import run_processes


def serve(out: str) -> None:
    """A stand-in for a worker: says it is serving (a file named by its pid), then serves until stopped."""
    Path(out, str(os.getpid())).touch()
    time.sleep(600)


def main(out: str, processes: int) -> None:
    run_processes(partial(serve, out), processes)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


@contextmanager
def pool(tmp_path: Path, processes: int) -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    code = f"from tests.test_processes import main; main({str(tmp_path)!r}, {processes})"
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        assert until(lambda: len(list(tmp_path.iterdir())) == processes), "not every process started serving"
        yield parent, sorted(int(p.name) for p in tmp_path.iterdir())
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_every_process_serves_and_none_outlives_the_worker(tmp_path: Path) -> None:
    with pool(tmp_path, 3) as (parent, pids):
        assert parent.pid in pids and len(set(pids)) == 3
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=10) == -signal.SIGTERM
        assert until(lambda: not any(alive(p) for p in pids), 10), "a worker process outlived the worker"


def test_a_failed_process_stops_the_worker(tmp_path: Path) -> None:
    with pool(tmp_path, 3) as (parent, pids):
        others = [p for p in pids if p != parent.pid]
        os.kill(others[0], signal.SIGKILL)
        assert parent.wait(timeout=10) == 1  # whatever supervises the worker sees it fail
        assert until(lambda: not alive(others[1]), 10), "the remaining process outlived the worker"


def test_one_process_serves_in_place(tmp_path: Path) -> None:
    with pool(tmp_path, 1) as (parent, pids):
        assert pids == [parent.pid]
