"""WhistleWorkflow: one 吹哨, a child of its case.

Each summoned department must 报到 within its limit, contact the whistler and finish within the kind's limit;
事不完、人不撤: it is released only when the whistler confirms. Afterwards the whistler rates every department
(双考核). The steps live in `workflows/whistle_steps.py`; this class is the whistle's public surface.
"""

# The worker passes this module through the sandbox (worker.RESTRICTIONS); the replay tests run it under the
# default restrictions, which execute it anew for every whistle replayed and check it. Annotations stay objects
# (no `from __future__ import annotations`) so that temporalio does not parse them again each time. What it
# imports is passed through either way (imported once per process): deterministic code, checked by replaying.
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import actions as do
    from models.actions import ActionName
    from models.inputs import Actor
    from models.whistle import WhistleInput, WhistleResult, WhistleView
    from workflows import whistle_steps as steps
    from workflows.whistle_steps import whistle_update


@workflow.defn(name="Whistle")
class WhistleWorkflow:
    @workflow.init
    def __init__(self, inp: WhistleInput) -> None:
        self.context = steps.WhistleContext(inp)

    @workflow.run
    async def run(self, inp: WhistleInput) -> WhistleResult:
        w = self.context
        async with w.lock:
            await steps.summon(w)
        while not w.s.rated:
            await w.timer.sleep_until(w.book.next_point())
            async with w.lock:
                await steps.fire_due(w)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return WhistleResult(n=inp.n, departments=list(w.s.departments.values()))

    report = whistle_update(do.REPORT)
    contact = whistle_update(do.CONTACT)
    release = whistle_update(do.RELEASE)
    rate = whistle_update(do.RATE_DEPARTMENTS)

    @workflow.query
    def view(self) -> WhistleView:
        return self.context.view()

    @workflow.query
    def available_actions(self, actor: Actor) -> list[ActionName]:
        return steps.available(self.context, actor)
