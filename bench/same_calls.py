"""The lifecycle's second baseline: a workflow that makes, update by update, the Temporal calls an engine case
made, read off that case's history, and does nothing else.

Its rate against the bare baseline is what Temporal's own work for those calls allows the engine (the search
attributes, local activities, timers, and the bytes of the input, the answers and the result); the engine's own
share is the rest. Passed through the sandbox, as the worker passes the case's modules, so it may take the
case's search-attribute keys from `models.search`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import RawValue, SearchAttributeUpdate

from models import search
from models.base import Model

_KEYS = {k.name: k for k in search.ALL_KEYS}


class StepCalls(Model):
    """What one update of the case made Temporal record, and how many bytes it answered with."""

    local_activities: int = 0
    record_bytes: int = 0
    upserted: list[str] = []
    timers_cancelled: int = 0
    timers_started: int = 0
    answer_bytes: int = 0


class CaseCalls(Model):
    steps: list[StepCalls]
    result_bytes: int

    def without_upserts(self) -> CaseCalls:
        return self._each(upserted=[])

    def without_local_activities(self) -> CaseCalls:
        return self._each(local_activities=0, record_bytes=0)

    def _each(self, **change: Any) -> CaseCalls:
        return CaseCalls(steps=[s.model_copy(update=change) for s in self.steps], result_bytes=self.result_bytes)


def calls_of(events: list[HistoryEvent], record_bytes: list[int]) -> CaseCalls:
    """The calls a case's history shows, each attributed to the update it was made in. `record_bytes`: the
    size of each local activity's input in turn (not in the history: the worker saw them)."""
    steps: list[StepCalls] = []
    result_bytes = 0
    records = iter(record_bytes)
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            steps.append(StepCalls())
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            result_bytes = sum(len(p.data) for p in e.workflow_execution_completed_event_attributes.result.payloads)
        elif not steps:
            continue
        elif e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            steps[-1].local_activities += 1
            steps[-1].record_bytes = next(records, 0)
        elif e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            steps[-1].upserted = sorted(fields)
        elif e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            steps[-1].timers_started += 1
        elif e.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            steps[-1].timers_cancelled += 1
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = e.workflow_execution_update_completed_event_attributes.outcome
            steps[-1].answer_bytes = sum(len(p.data) for p in outcome.success.payloads)
    return CaseCalls(steps=steps, result_bytes=result_bytes)


def _value(name: str) -> SearchAttributeUpdate[Any]:
    key = _KEYS[name]
    if key is search.CASE_OVERDUE:
        return search.CASE_OVERDUE.value_set(False)
    if key is search.CASE_NEXT_DEADLINE:
        return search.CASE_NEXT_DEADLINE.value_set(workflow.now())
    return _KEYS[name].value_set(f"value-{workflow.info().workflow_id[-6:]}")  # type: ignore[arg-type]


@workflow.defn(name="BaselineCalls")
class BaselineCalls:
    """Started with a case's input bytes (`RawValue`, kept as received); each `step` update makes one update's
    calls: its local activities (with inputs as long as the case's records), its search-attribute upsert, its
    timers, and an answer as long as the case's; it ends, with a result as long as the closure record, after as
    many updates as the case took."""

    def __init__(self) -> None:
        self.done = 0
        self.timers: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self, _inp: RawValue, updates: int, result_bytes: int) -> str:
        await workflow.wait_condition(lambda: self.done >= updates)
        return "r" * result_bytes

    @workflow.update
    async def step(self, calls: StepCalls) -> str:
        for _ in range(calls.local_activities):
            await workflow.execute_local_activity(
                "baseline_record", "e" * calls.record_bytes, start_to_close_timeout=timedelta(seconds=30)
            )
        if calls.upserted:
            workflow.upsert_search_attributes([_value(name) for name in calls.upserted])
        for _ in range(calls.timers_cancelled):
            self.timers.pop().cancel()
        for _ in range(calls.timers_started):
            self.timers.append(asyncio.create_task(workflow.sleep(timedelta(days=1))))
        self.done += 1
        return "v" * calls.answer_bytes
