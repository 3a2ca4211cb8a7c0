"""A whistle's record as of now, for the API and the console alike."""

from __future__ import annotations

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from models.reads import WhistleRecord
from models.whistle import whistle_workflow_id
from services.intake import QUERY_TIMEOUT, whistle_handle, within_query_time
from workflows.whistle import WhistleWorkflow


async def whistle_now(client: Client, record: WhistleRecord) -> WhistleRecord:
    """The read model's record, with the whistle's own state over it while the whistle runs: a department that
    has just reported sees its 报到 at once, as a case's own action is seen at once. If the whistle cannot be
    asked (its worker away), the record as the read model has it."""
    if record.closed:
        return record
    handle = whistle_handle(client, whistle_workflow_id(record.case_id, record.n))
    try:
        async with within_query_time():
            view = await handle.query(WhistleWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCError, TimeoutError):
        return record
    return record.with_live(view)
