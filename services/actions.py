"""An action sent to a case (or one of its whistles) as its workflow update, answered within a bound however the
worker fares: the one way the API, the console and the command line act on a case."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowHandle, WorkflowUpdateStage
from temporalio.service import RPCError

from models import inputs as m
from models.actions import ActionSpec
from models.case import CaseView
from models.whistle import WhistleView
from temporal_client import RETRYABLE_RPC


class NotTaken(Exception):
    """The case did not take the action in time: no worker answered (`unreachable` False) or Temporal did not
    (True). Nothing was done yet; the same request may be sent again."""

    def __init__(self, *, unreachable: bool) -> None:
        super().__init__("Temporal unreachable" if unreachable else "not taken in time")
        self.unreachable = unreachable


async def perform(
    handle: WorkflowHandle[Any, Any],
    spec: ActionSpec[m.Action],
    action: m.Action,
    content: str,
    request_id: str,
    wait: float,
) -> BaseModel | None:
    """The update's result within `wait` seconds however the worker fares: None when the case took the action
    but did not finish it in time; `NotTaken` when it did not take it (it may be sent again).

    Its Temporal update id is the action, the request id and `content` (who, what): the same request sent again
    joins the first (Temporal keeps one update per id) and gets its outcome; a corrected body is a new update.
    """
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    update_id = f"{spec.name}:{request_id}:{digest}"
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    try:
        async with asyncio.timeout(wait):
            update = await handle.start_update(
                spec.update,
                action,
                id=update_id,
                result_type=WhistleView if spec.whistle else CaseView,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                rpc_timeout=timedelta(seconds=wait),
            )
    except (TimeoutError, RPCTimeoutOrCancelledError) as err:
        # Not taken by the case in time (no worker answered): the same request may be sent again.
        raise NotTaken(unreachable=False) from err
    except RPCError as err:
        if err.status in RETRYABLE_RPC:
            raise NotTaken(unreachable=True) from err
        raise
    left = max(end - loop.time(), 0.1)
    try:
        async with asyncio.timeout(left):
            result: BaseModel = await update.result(rpc_timeout=timedelta(seconds=left))
    except (TimeoutError, RPCTimeoutOrCancelledError):
        return None
    except RPCError as err:
        if err.status in RETRYABLE_RPC:
            return None  # taken by the case, which goes on; the result is there to fetch
        raise
    return result
