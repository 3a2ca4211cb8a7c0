"""Recorded histories replay with the current code; a changed workflow is caught by the same check.

The files in tests/histories/, by prefix: `case_`/`whistle_` were recorded by the current code (rule set 2 of
who is charged, named in the case's input by the 受理 service; their snapshots still carry the configured
calendar beside the working days, which the snapshot now leaves out, and no command depends on it);
`marker_case_` while rule set 2 was taken behind the `case-rules-2026-12` marker, among them
`marker_case_full_directory_`, before a case carried only its part of the directory (the whole of it then, so a
move brought no chain), and `marker_case_every_department_`, while a case carried every street and department (so
a whistle brought no units); `line_` while a whistle told its case each line in a signal of its own (now: one
`whistle_notes` per workflow task); `rules1_` before rule set 2; `open_activity_` before 受理 took the policy
snapshot; `calendar_activity_` before cases carried their calendar; `changed_` by a deliberately changed
workflow, which the current code must refuse.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import _Definition

from models.case import RULES_2026_12
from workflows.case import CaseWorkflow
from workflows.case_context import PENDING_LAPSES_PATCH, RULES_2026_12_PATCH
from workflows.case_steps.extension import MISS_STANDS_PATCH
from workflows.case_steps.intake import CLASS_LIMIT_PATCH
from workflows.case_steps.points import WHISTLER_LEADS_PATCH
from workflows.whistle import WhistleWorkflow
from workflows.whistle_deadlines import CLOSURE_WHISTLES_PATCH
from workflows.whistle_steps import ABSENT_RELEASE_PATCH

HERE = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(p for p in HERE.glob("*.json") if not p.stem.startswith("changed_"))
CHANGED = sorted(HERE.glob("changed_*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def events(path: Path, kind: str) -> list[dict[str, object]]:
    return [e for e in json.loads(path.read_text())["events"] if e["eventType"] == f"EVENT_TYPE_{kind}"]


def patches(path: Path) -> set[str]:
    """The `workflow.patched` ids a history recorded."""
    found = set()
    for e in events(path, "MARKER_RECORDED"):
        attrs: dict[str, Any] = e["markerRecordedEventAttributes"]  # type: ignore[assignment]
        if attrs["markerName"] == "core_patch":
            [payload] = attrs["details"]["patch-data"]["payloads"]
            found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def input_rules(path: Path) -> object:
    """The rule set the case's first run was started with, if its input names one."""
    [started] = events(path, "WORKFLOW_EXECUTION_STARTED")
    attrs: dict[str, Any] = started["workflowExecutionStartedEventAttributes"]  # type: ignore[assignment]
    [payload] = attrs["input"]["payloads"]
    return json.loads(base64.b64decode(payload["data"])).get("rules")


def replayer() -> Replayer:
    """The default sandbox, not the worker's (which passes the workflow modules through): replaying, the
    workflow classes' own modules run under its restrictions too."""
    return Replayer(workflows=[CaseWorkflow, WhistleWorkflow], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    result = await replayer().replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


@pytest.mark.parametrize("path", CHANGED, ids=[p.stem for p in CHANGED])
async def test_the_history_of_a_changed_workflow_fails_replay(path: Path) -> None:
    result = await replayer().replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is not None


def test_histories_are_there() -> None:
    from tests.helpers import local_activities_in  # not at the top: the sandbox re-imports this module

    names = {p.stem for p in HISTORIES}
    stories = {"case_reopened_then_rated", "case_auto_escalated", "case_whistled", "whistle_late_report"}
    # Cases opened before cases carried their calendar still plan through the calendar activity.
    assert names >= stories | {f"calendar_activity_{s}" for s in stories}
    # Rule set 1 (before 2026-12) and the current rules, both sides of a merge in each.
    merged = {"case_merged", "case_merged_into"}
    assert names >= stories | merged | {f"rules1_{s}" for s in stories | merged}
    # Cases started without the 受理 snapshot take it through the open_case activity.
    case_stories = stories - {"whistle_late_report"} | merged
    assert names >= {f"open_activity_{s}" for s in case_stories}
    assert CHANGED, "a history the current code must refuse"
    assert names >= {f"marker_{s}" for s in stories - {"whistle_late_report"} | merged}
    assert names >= {"line_case_whistled", "line_whistle_late_report"}
    for path in HISTORIES:
        stem = path.stem.removeprefix("marker_").removeprefix("line_")
        activities = local_activities_in(load(path))
        planned_by_activity = "plan_deadlines" in activities
        assert planned_by_activity is stem.startswith("calendar_activity_"), path.stem
        if stem.startswith(("case_", "rules1_case_")):
            assert "open_case" not in activities and "record" in activities, path.stem
        elif "whistle_" not in stem:
            assert "open_case" in activities, path.stem
        if "whistle_" in stem:
            continue
        # A continued run carries its rule set in its state, not a marker.
        marked = RULES_2026_12_PATCH in patches(path) or path.stem.startswith("marker_case_continued_last")
        assert marked is path.stem.startswith("marker_case_"), path.stem
        assert (input_rules(path) == RULES_2026_12) is path.stem.startswith(("case_", "line_case_")), path.stem


def test_every_update_and_signal_has_an_accepted_instance() -> None:
    updates = {u for w in (CaseWorkflow, WhistleWorkflow) for u in _Definition.must_from_class(w).updates}
    signals = {s for w in (CaseWorkflow, WhistleWorkflow) for s in _Definition.must_from_class(w).signals}
    seen_updates: set[str] = set()
    seen_signals: set[str] = set()
    for path in HISTORIES:
        for e in events(path, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"):
            seen_updates.add(e["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]["input"]["name"])  # type: ignore[index]
        for e in events(path, "WORKFLOW_EXECUTION_SIGNALED"):
            seen_signals.add(e["workflowExecutionSignaledEventAttributes"]["signalName"])  # type: ignore[index]
    assert updates <= seen_updates, updates - seen_updates
    assert signals <= seen_signals, signals - seen_signals
    continued = events(HERE / "case_continued_first_run.json", "WORKFLOW_EXECUTION_CONTINUED_AS_NEW")
    assert continued, "one run continued as new carrying its state"


def test_every_patched_path_has_a_recording() -> None:
    """Each rule a case takes behind a marker has a history that took it, replayed above."""
    taken = {patch for path in HISTORIES for patch in patches(path)}
    patched = {
        RULES_2026_12_PATCH,
        PENDING_LAPSES_PATCH,
        MISS_STANDS_PATCH,
        WHISTLER_LEADS_PATCH,
        CLASS_LIMIT_PATCH,
        ABSENT_RELEASE_PATCH,
        CLOSURE_WHISTLES_PATCH,
    }
    assert patched <= taken, patched - taken
