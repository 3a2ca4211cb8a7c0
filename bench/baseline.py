"""The baseline: a workflow that takes a case's updates and does nothing else (Temporal's own cost)."""

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
