"""The baselines: workflows that take a case's calls and do nothing else (Temporal's own cost).

A module of their own, apart from the benchmarks that run them: the sandbox executes it for every baseline
workflow, and a benchmark's imports (the worker, the command line) are no workflow's business."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue

from models import search


@workflow.defn(name="Baseline")
class BaselineWorkflow:
    def __init__(self) -> None:
        self.steps = 0

    @workflow.run
    async def run(self, steps: int) -> int:
        await workflow.wait_condition(lambda: self.steps >= steps)
        return self.steps

    @workflow.update
    async def step(self, name: str) -> int:
        self.steps += 1
        return self.steps


@workflow.defn(name="HistoryBaselineWhistle")
class BaselineWhistle:
    """Takes `updates` updates; each signals the parent `signals` times, as the whistle tells its case."""

    def __init__(self) -> None:
        self.done = 0

    @workflow.run
    async def run(self, updates: int) -> int:
        await workflow.wait_condition(lambda: self.done >= updates)
        return self.done

    @workflow.update
    async def step(self, signals: int) -> int:
        parent = workflow.get_external_workflow_handle(workflow.info().parent.workflow_id)  # type: ignore[union-attr]
        for _ in range(signals):
            await parent.signal("note", "x")
        self.done += 1
        return self.done


@workflow.defn(name="HistoryBaselineCase")
class BaselineCase:
    """Takes `updates` updates; the one named `whistle` starts a `BaselineWhistle` of `whistle_updates`."""

    def __init__(self) -> None:
        self.done = 0
        self.notes = 0

    @workflow.run
    async def run(self, updates: int) -> int:
        await workflow.wait_condition(lambda: self.done >= updates)
        return self.done

    @workflow.update
    async def step(self, name: str, whistle_updates: int) -> int:
        if name == "whistle":
            await workflow.start_child_workflow(
                BaselineWhistle.run,
                whistle_updates,
                id=f"{workflow.info().workflow_id}-whistle",
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        self.done += 1
        return self.done

    @workflow.signal
    def note(self, _: str) -> None:
        self.notes += 1


@workflow.defn(name="BaselineAtRest")
class BaselineAtRest:
    """Makes the calls a case makes until it waits on its first deadline, and holds nothing of its own: its
    input kept as received (`RawValue`: the bytes of a case's start input), one local activity, one upsert of
    the case's seven search attributes, one timer, and an answer as long as a case's view to the update that
    started it."""

    def __init__(self) -> None:
        self.answer = ""

    @workflow.run
    async def run(self, inp: RawValue, answer_bytes: int) -> None:
        await workflow.execute_local_activity(
            "baseline_record", "e" * answer_bytes, start_to_close_timeout=timedelta(seconds=30)
        )
        keywords = (search.CASE_STATUS, search.CASE_UNIT, search.CASE_TIER, search.CASE_URGENCY, search.CASE_CATEGORY)
        workflow.upsert_search_attributes(
            [
                *(k.value_set("x") for k in keywords),
                search.CASE_OVERDUE.value_set(False),
                search.CASE_NEXT_DEADLINE.value_set(workflow.now()),
            ]
        )
        self.answer = "v" * answer_bytes
        await workflow.sleep(timedelta(days=1))

    @workflow.update
    async def opened(self) -> str:
        await workflow.wait_condition(lambda: bool(self.answer))
        return self.answer
