"""Recorded histories replay with the current code; a changed workflow is caught by the same check."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.case import CaseInput, ClosureRecord
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[CaseWorkflow, WhistleWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_histories_are_there() -> None:
    from tests.helpers import local_activities_in  # not at the top: the sandbox re-imports this module

    stories = {"case_reopened_then_rated", "case_auto_escalated", "case_whistled", "whistle_late_report"}
    # Cases opened before cases carried their calendar still plan through the calendar activity.
    assert {p.stem for p in HISTORIES} >= stories | {f"calendar_activity_{s}" for s in stories}
    # 合并 tells its target since that was added (behind a patch marker): both sides, recorded after it.
    assert {p.stem for p in HISTORIES} >= {"case_merged", "case_merged_into"}
    # Cases started without the 受理 snapshot take it through the open_case activity.
    case_stories = stories - {"whistle_late_report"} | {"case_merged", "case_merged_into"}
    assert {p.stem for p in HISTORIES} >= {f"open_activity_{s}" for s in case_stories}
    for path in HISTORIES:
        activities = local_activities_in(load(path))
        planned_by_activity = "plan_deadlines" in activities
        assert planned_by_activity is path.stem.startswith("calendar_activity_"), path.stem
        if path.stem.startswith("case_"):
            assert "open_case" not in activities and "record" in activities, path.stem
        elif "whistle_" not in path.stem:
            assert "open_case" in activities, path.stem


@workflow.defn(name="Case")
class CaseThatSkipsDispatch:
    """A 'Case' that forgot its intake activities: replaying real histories against it must fail."""

    @workflow.run
    async def run(self, inp: CaseInput) -> ClosureRecord:
        await workflow.wait_condition(lambda: False)
        raise AssertionError("unreachable")


async def test_a_changed_workflow_fails_replay() -> None:
    replayer = Replayer(workflows=[CaseThatSkipsDispatch], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(HISTORIES[0]), raise_on_replay_failure=False)
    assert result.replay_failure is not None
