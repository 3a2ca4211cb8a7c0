"""CaseWorkflow: the whole life of one case, from 受理 to 销号, with its deadlines as timers.

This class is the case's public surface: the run loop, the updates (one per row of `models/actions.py`), the
signals a whistle or a merged duplicate sends, and the queries. What each step does lives in its own module of
`workflows/case_steps/`; how an action is checked and applied, in `workflows/acting.py`. Every update's
validator refuses a wrong actor, a wrong state or bad input before anything reaches history; the handler checks
again under the lock, because another update may have changed the case while this one waited.
"""

# The worker passes this module through the sandbox (worker.RESTRICTIONS); the replay tests run it under the
# default restrictions, which execute it anew for every case replayed and check it. Annotations stay objects
# (no `from __future__ import annotations`) so that temporalio does not parse them again each time. What it
# imports is passed through either way (imported once per process): deterministic code, checked by replaying.
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import actions as do
    from models.actions import ActionName
    from models.case import CaseInput, CaseOpened, CaseView, ClosureRecord, Status
    from models.inputs import Actor
    from models.io import MergeNote, WhistleNote
    from models.timeline import CaseEvent
    from workflows.acting import available, case_update
    from workflows.case_context import CaseContext
    from workflows.case_steps import intake, merge, points
    from workflows.case_steps import whistle as whistling


@workflow.defn(name="Case")
class CaseWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self.context = CaseContext(inp)
        self.events_at_start = len(self.context.s.events)

    @workflow.run
    async def run(self, inp: CaseInput) -> ClosureRecord:
        c = self.context
        if c.s.status is Status.intake:
            async with c.lock:
                await intake.receive(c, inp.opened)
        while c.s.status is not Status.closed:
            if self._history_is_long(inp):
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not c.lock.locked())
                carried = {"state": c.s, "opened": None, "intake_token": None, "sealed_reporter": None}
                workflow.continue_as_new(inp.model_copy(update=carried))
            await c.timer.sleep_until(None if c.s.status is Status.suspended else c.book.next_point())
            async with c.lock:
                await points.fire_due(c)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return c.closure()

    def _history_is_long(self, inp: CaseInput) -> bool:
        """A long case (many 重办, 延期, reminders) starts a fresh run carrying its state."""
        grown = len(self.context.s.events) - self.events_at_start
        return workflow.info().is_continue_as_new_suggested() or grown >= inp.continue_after_events

    # ------------------------------------------------------------------------------------------ actions

    sign = case_update(do.SIGN)
    return_case = case_update(do.RETURN)
    decide_return = case_update(do.DECIDE_RETURN)
    redispatch = case_update(do.REDISPATCH)
    escalate = case_update(do.ESCALATE)
    whistle = case_update(do.WHISTLE)
    request_extension = case_update(do.REQUEST_EXTENSION)
    decide_extension = case_update(do.DECIDE_EXTENSION)
    suspend = case_update(do.SUSPEND)
    resume = case_update(do.RESUME)
    reply = case_update(do.REPLY)
    rate = case_update(do.RATE)
    withdraw = case_update(do.WITHDRAW)
    merge = case_update(do.MERGE)
    reject_case = case_update(do.REJECT)
    urge = case_update(do.URGE)
    supervise = case_update(do.SUPERVISE)
    extend = case_update(do.EXTEND)
    close = case_update(do.CLOSE)

    @workflow.update
    async def opened(self) -> CaseOpened:
        """Answers once intake and dispatch are done and recorded: the channel's start-and-wait in one call.

        With the token of the caller that started the case, so that of many callers racing with one ticket
        exactly one is told it created the case."""
        c = self.context
        await workflow.wait_condition(lambda: c.s.status is not Status.intake and c.s.projected_seq > 0)
        return CaseOpened(view=c.view(), intake_token=c.intake_token)

    # ------------------------------------------------------------------------------------------ signals

    @workflow.signal
    def whistle_note(self, note: WhistleNote) -> None:
        """Synchronous on purpose: the whistle's end must be visible to the very next update's validator."""
        whistling.noted(self.context, note)

    @workflow.signal
    def whistle_notes(self, notes: list[WhistleNote]) -> None:
        """What one workflow task of a whistle told (`WhistleInput.notes_per_task`); synchronous as above."""
        for note in notes:
            whistling.noted(self.context, note)

    @workflow.signal
    def merged_in(self, note: MergeNote) -> None:
        merge.merged_in(self.context, note)

    # ------------------------------------------------------------------------------------------ queries

    @workflow.query
    def view(self) -> CaseView:
        return self.context.view()

    @workflow.query
    def events(self, since: int = 0) -> list[CaseEvent]:
        return self.context.s.events[since:]

    @workflow.query
    def available_actions(self, actor: Actor) -> list[ActionName]:
        """The actions `actor` may take now, from the same checks the validators run (the console's forms)."""
        return available(self.context, actor)
