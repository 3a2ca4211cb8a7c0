"""A resident's rating that races an event into its case, over HTTP. The task that closes the case fails as the
event comes in, and the server drops the rating with it, unrecorded; the API sends the rating again, and the
resident is told the case is struck off, with the rating kept once."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from temporalio import workflow
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from models import actions as do
from tests.api.conftest import Stack, api_with, key
from tests.api.test_case_flow import CHANNEL, new_case
from worker import build_worker
from workflows.case import CaseWorkflow

QUEUE = "api-races"
HOLD = 1.5
"""How long at most the first rating holds the workflow task that closes its case, waiting for the event to come
in (below the SDK's deadlock timeout of 2 s)."""


class HoldFirstRating(Interceptor):
    """Holds, once its handler has run, the task of the first rating a case is sent, as a busy worker would."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()
        self.ratings: list[str] = []
        """the id of each rating the case handled as it came (not replaying)"""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        outer = self

        class Hold(WorkflowInboundInterceptor):
            async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
                answer = await super().handle_update_handler(input)
                if input.update == do.RATE.update and not workflow.unsafe.is_replaying():
                    outer.ratings.append(input.id)
                    if len(outer.ratings) == 1:
                        outer.holding.set()
                        outer.release.wait(HOLD)  # the worker runs unsandboxed, in this process
                return answer

        return Hold


async def test_a_rating_dropped_as_an_event_comes_in_is_sent_again_and_kept(stack: Stack) -> None:
    hold = HoldFirstRating()
    worker = build_worker(
        stack.temporal,
        task_queue=QUEUE,
        database_url=stack.settings.database_url,
        sandbox=False,
        interceptors=[hold],
    )
    async with worker, api_with(stack, task_queue=QUEUE) as api:
        r = await api.post("/cases", json=new_case(), headers=key(CHANNEL))
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        c = f"/cases/{case_id}"
        assert (await api.post(f"{c}/sign", headers=key("grid-a1-1"))).status_code == 200
        r = await api.post(f"{c}/reply", json={"result": "违建已拆除"}, headers=key("grid-a1-1"))
        assert r.status_code == 200, r.text

        rating = asyncio.create_task(
            api.post(f"{c}/rate", json={"level": "satisfied", "solved": True}, headers=key(CHANNEL))
        )
        assert await asyncio.to_thread(hold.holding.wait, 10), "the rating reached the worker"
        # Any event does: a whistle's notes, here with nothing in them.
        await stack.temporal.get_workflow_handle(case_id).signal(CaseWorkflow.whistle_notes, [])
        hold.release.set()  # the server holds the signal: the task that closes the case now fails
        r = await rating

        assert r.status_code == 200, r.text
        assert r.json()["status"] == "closed"
        assert len(hold.ratings) == 2 and hold.ratings[0] == hold.ratings[1], "dropped, then sent again as itself"
        tl = (await api.get(f"{c}/timeline", headers=key("supervisor-12345"))).json()
        kinds = [e["kind"] for e in tl["data"]]
        assert kinds.count("rate") == 1 and kinds.count("close") == 1, kinds
