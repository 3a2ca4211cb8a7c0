"""受理: check a case against the policy, keep the reporter in the vault, start its workflow once per ticket."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, RPCTimeoutOrCancelledError, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.vault import ReporterVault
from models.case import CaseInput, CaseView, Intake, Status, case_id_for
from models.policy import Policy, Tier
from policy.routing import RoutingError, locate
from policy.snapshot import snapshot_case
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

CaseHandle = WorkflowHandle[CaseWorkflow, Any]
QUERY_TIMEOUT = timedelta(seconds=5)
_OUT_OF_TIME = (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)


def case_handle(client: Client, case_id: str) -> CaseHandle:
    """The case's workflow, whichever run it is in (a handle bound to one run misses continue-as-new)."""
    return client.get_workflow_handle_for(CaseWorkflow.run, case_id)


def whistle_handle(client: Client, workflow_id: str) -> WorkflowHandle[WhistleWorkflow, Any]:
    return client.get_workflow_handle_for(WhistleWorkflow.run, workflow_id)


class IntakeError(ValueError):
    """A case the policy cannot take; `field` names the input at fault, the message is for people."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_intake(intake: Intake, policy: Policy) -> None:
    if policy.category(intake.category) is None:
        raise IntakeError("category", f"未知的诉求类别：{intake.category}")
    try:
        locate(policy.directory, intake.location.grid_id)
    except RoutingError as err:
        grids = "、".join(u.id for u in policy.directory.units if u.tier is Tier.grid)
        raise IntakeError("location.grid_id", f"未知的网格：{intake.location.grid_id}（可选：{grids}）") from err


@dataclass(frozen=True)
class Opened:
    handle: CaseHandle
    existed: bool
    view: CaseView | None = None
    """None: started, but dispatch is still under way."""


async def open_case(
    client: Client,
    task_queue: str,
    intake: Intake,
    vault: ReporterVault,
    reporter: tuple[str, str] | None,
    timeout: timedelta = timedelta(seconds=15),
    *,
    policy: Policy | None,
) -> Opened:
    """Start the case unless this channel's ticket already is one, and wait until it is dispatched.

    The reporter's name and phone go to the vault; the workflow gets only the reference and a masked phone.
    With the policy (checked by `check_intake`), the case starts with its snapshot and routing and is dispatched
    in its first workflow task; without it, the workflow takes them with an activity.
    """
    case_id = case_id_for(intake.channel, intake.channel_ticket_id)
    handle = case_handle(client, case_id)
    try:
        await handle.describe()
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    else:
        # A query to a busy worker runs out of time (the server says CANCELLED or DEADLINE_EXCEEDED): the caller
        # answers from what it has.
        try:
            return Opened(handle, True, await handle.query(CaseWorkflow.view, rpc_timeout=timeout))
        except RPCTimeoutOrCancelledError:
            return Opened(handle, True)
        except RPCError as err:
            if err.status not in _OUT_OF_TIME:
                raise
            return Opened(handle, True)
    if reporter is not None:
        try:
            ref = vault.store(name=reporter[0], phone=reporter[1], confidential=intake.reporter.confidential)
        except ValueError as err:
            raise IntakeError("reporter.phone", "诉求人电话格式不正确：须为手机号或固定电话") from err
        intake = intake.model_copy(update={"reporter": ref})
    # Start and wait in one call (update-with-start). A racing repeat of the ticket joins the running case.
    start = WithStartWorkflowOperation(CaseWorkflow.run, **start_options(task_queue, intake, policy))
    try:
        view = await client.execute_update_with_start_workflow(
            CaseWorkflow.opened, start_workflow_operation=start, rpc_timeout=timeout
        )
    except RPCTimeoutOrCancelledError as out_of_time:
        # The start operation holds the same timeout; take it, or asyncio reports it as never retrieved.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(start.workflow_handle(), 1)
        # Only a case the server has is "accepted" (dispatch under way). If the call ran out before the start was
        # stored, the time-out goes to the caller (503: send the ticket again), so nothing is claimed and lost.
        try:
            await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise out_of_time from None
            raise
        view = None
    # The handle follows the case across continue-as-new, never one run of it.
    return Opened(handle, False, view)


def start_options(task_queue: str, intake: Intake, policy: Policy | None) -> dict[str, Any]:
    """One workflow per case, its id derived from the ticket: a repeat joins the running case, and a case
    already struck off is never started again."""
    case_id = case_id_for(intake.channel, intake.channel_ticket_id)
    opened = snapshot_case(policy, intake, datetime.now(UTC).date()) if policy else None
    return {
        "arg": CaseInput(intake=intake, case_id=case_id, opened=opened),
        "id": case_id,
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }


async def start_workflow(client: Client, task_queue: str, intake: Intake, *, policy: Policy | None) -> CaseHandle:
    """Start (or join) the case's workflow without waiting for its dispatch."""
    return await client.start_workflow(CaseWorkflow.run, **start_options(task_queue, intake, policy))


async def wait_ready(handle: CaseHandle, timeout: float = 15) -> CaseView:
    """A case is in 受理 until its first activities ran (policy snapshot, routing, deadlines, read model)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        try:
            view = await handle.query(CaseWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
        except RPCError:
            # A query can land on a run that is just continuing as new; ask the next run.
            view = None
        if view is not None and view.status is not Status.intake and view.recorded_seq > 0:
            return view
        if loop.time() > end:
            raise TimeoutError(f"case {handle.id} is still in intake after {timeout}s")
        await asyncio.sleep(0.05)
