"""The baselines: workflows that take a case's calls and do nothing else (Temporal's own cost).

A module of their own, apart from the benchmarks that run them: the sandbox executes it for every baseline
workflow, and a benchmark's imports (the worker, the command line) are no workflow's business."""

from __future__ import annotations

from temporalio import workflow


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
