"""The baseline of `bench.cached_case`: a workflow that makes a case's calls until it waits, and keeps nothing.

Apart from bench/baseline.py, whose workflows run under the default sandbox (which executes their module anew
for each one, so it imports next to nothing): `cached_case` passes this module through, as the worker passes
the case's, and it may take the case's search-attribute keys from `models.search`."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue

from models import search


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
