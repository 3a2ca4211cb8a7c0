"""The benchmarks' own arithmetic and bookkeeping: what would misreport a figure if it were wrong."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench.common import percentile, rss_bytes
from bench.live_cases import CACHE, footprint
from bench.stack import cpu_seconds, family, family_cpu_seconds, family_rss_bytes, spread


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled order must not matter
    values.reverse()
    assert percentile(values, 0.5) == pytest.approx(50.5)
    assert percentile(values, 0.99) == pytest.approx(99.01)
    assert percentile(values, 1.0) == 100.0 and percentile(values, 0.0) == 1.0
    assert math.isnan(percentile([], 0.5))
    assert spread([0.2, 0.1, 0.4]) == {"count": 3, "min": 0.1, "p50": 0.2, "p99": 0.396, "max": 0.4}
    assert spread([]) == {"count": 0}


def test_a_worker_s_figures_include_its_child_processes() -> None:
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", busy])
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(child.pid) < 0.2:  # until the child has used its CPU
            assert time.monotonic() < deadline, "the child never ran"
            time.sleep(0.05)
        assert child.pid in family(os.getpid())
        assert family_cpu_seconds(os.getpid()) >= cpu_seconds(os.getpid()) + cpu_seconds(child.pid) - 0.05
        assert family_rss_bytes(os.getpid()) >= rss_bytes(os.getpid()) + rss_bytes(child.pid) - 2**20
    finally:
        child.kill()
        child.wait()
    assert child.pid not in family(os.getpid())


def test_live_case_footprint_is_per_case_and_per_cached_workflow() -> None:
    before = {"rss": 100 * 2**20, "cpu": 10.0, "server_db": 0, "server_rss": 0, "server_cpu": 5.0}
    full = {**before, "rss": 300 * 2**20}
    after = {"rss": 500 * 2**20, "cpu": 30.0, "server_db": 2000 * 1024, "server_rss": 2**30, "server_cpu": 15.0}
    f = footprint(before, full, after, 2000)
    assert f["worker_rss_per_cached_workflow_kib"] == round(200 * 1024 / min(2000, CACHE), 1)
    assert f["worker_rss_growth_once_cache_full_mib"] == 200.0
    assert f["server_db_per_case_kib"] == 1.0
    assert (f["worker_cpu_per_case_ms"], f["server_cpu_per_case_ms"]) == (10.0, 5.0)


def test_only_a_full_run_with_the_defaults_counts_as_full() -> None:
    assert bench_main.sizes(bench_main.parse_args([])) == ({}, True)
    assert bench_main.sizes(bench_main.parse_args(["--quick"])) == (bench_main.QUICK, False)
    chosen, full = bench_main.sizes(bench_main.parse_args(["--quick", "--live-cases", "7"]))
    assert chosen["live_cases"] == 7 and not full
    assert not bench_main.sizes(bench_main.parse_args(["--only", "lifecycle"]))[1]
    with pytest.raises(SystemExit):
        bench_main.parse_args(["--only", "nonsense"])


def test_readme_summary_is_replaced_between_its_markers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench_main.BEGIN}\nold\n{bench_main.END}\noutro\n", encoding="utf-8")
    monkeypatch.setattr(bench_main, "README", readme)
    bench_main.refresh_readme("# new figures\n")
    assert readme.read_text(encoding="utf-8") == f"intro\n{bench_main.BEGIN}\n# new figures\n{bench_main.END}\noutro\n"


def test_an_escalation_summary_that_misses_says_what_limits_it() -> None:
    from bench.escalation import summary

    def result(engine_p99: float, bare_p99: float) -> dict[str, Any]:
        lateness = {"count": 1000, "p50": 0.5, "max": 2.5}
        return {
            "parameters": {"cases": 1000, "slice_seconds": 75.0, "start_concurrency": 50, "worker_processes": 1},
            "baseline": {"start_s": 6.8, "deadline_spread_s": 24.1, "lateness_s": {**lateness, "p99": bare_p99}},
            "engine": {
                "start_s": 8.6,
                "all_dispatched_s": 39.9,
                "dispatched_before_first_deadline": True,
                "deadline_spread_s": 38.2,
                "escalated_within_s": 40.0,
                "missing": 0,
                "wrong_target": 0,
                "early": 0,
                "lateness_s": {**lateness, "p99": engine_p99},
            },
        }

    missed = summary(result(1.494, 2.298))
    assert "What limits it: bare timers on the same server came 2.30 s late at p99" in missed
    assert "1.49 s (below them)" in missed
    assert "fell due within 38.2 s (26 a second)" in missed and "within 40 s of the first (25 a second)" in missed
    assert "(above them)" in summary(result(1.8, 1.2))
    assert "What limits it" not in summary(result(0.9, 2.0))


def test_the_same_calls_are_read_off_a_case_s_history_update_by_update() -> None:
    from temporalio.api.common.v1 import Payload
    from temporalio.api.enums.v1 import EventType as T
    from temporalio.api.history.v1 import HistoryEvent

    from bench.same_calls import StepCalls, calls_of

    def event(kind: int, **attributes: Any) -> HistoryEvent:
        return HistoryEvent(event_type=kind, **attributes)  # type: ignore[arg-type]

    def answered(n: int) -> HistoryEvent:
        e = event(T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
        e.workflow_execution_update_completed_event_attributes.outcome.success.payloads.append(Payload(data=b"v" * n))
        return e

    def upserted(*names: str) -> HistoryEvent:
        e = event(T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
        for name in names:
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[name].data = b"1"
        return e

    completed = event(T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
    completed.workflow_execution_completed_event_attributes.result.payloads.append(Payload(data=b"r" * 7))
    history = [
        event(T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        event(T.EVENT_TYPE_TIMER_STARTED),  # before any update: not an update's call
        event(T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
        event(T.EVENT_TYPE_MARKER_RECORDED),
        upserted("CaseStatus", "CaseUnit"),
        event(T.EVENT_TYPE_TIMER_STARTED),
        answered(30),
        event(T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
        event(T.EVENT_TYPE_MARKER_RECORDED),
        answered(40),
        # a timer moved in the same workflow task, after the answer: still this update's
        event(T.EVENT_TYPE_TIMER_CANCELED),
        event(T.EVENT_TYPE_TIMER_STARTED),
        completed,
    ]
    calls = calls_of(history, [500, 600])
    assert calls.steps == [
        StepCalls(
            local_activities=1, record_bytes=500, upserted=["CaseStatus", "CaseUnit"], timers_started=1, answer_bytes=30
        ),
        StepCalls(local_activities=1, record_bytes=600, timers_cancelled=1, timers_started=1, answer_bytes=40),
    ]
    assert calls.result_bytes == 7
