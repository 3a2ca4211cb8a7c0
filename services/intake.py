"""受理: check a case against the policy, keep the reporter in the vault, start its workflow once per ticket."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, RPCTimeoutOrCancelledError, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.case import RULES_2026_12, CaseInput, CaseView, Status
from models.intake import Intake, SealedReporter, case_id_for
from models.policy import Policy, Tier
from models.tables import CaseRow
from policy.snapshot import snapshot_case
from rules.routing import RoutingError, locate
from store.vault import ReporterVault
from workflows.case import CaseWorkflow
from workflows.whistle import WhistleWorkflow

CaseHandle = WorkflowHandle[CaseWorkflow, Any]
QUERY_TIMEOUT = timedelta(seconds=5)
"""How long a read waits on a workflow's answer (its worker answers queries): a read while no worker runs says
"try again" after this, not after the server's own wait of about half a minute."""


def within_query_time() -> asyncio.Timeout:
    """`QUERY_TIMEOUT` for a query in all, retries included: `rpc_timeout` bounds one attempt, and the client
    retries what the server refuses as RESOURCE_EXHAUSTED ("consistent query buffer is full", while reads pile up
    behind an action waiting for a worker that is away). Raises TimeoutError past it."""
    return asyncio.timeout(QUERY_TIMEOUT.total_seconds())


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
    try:
        case_id_for(intake.channel, intake.channel_ticket_id)
    except ValueError as err:
        raise IntakeError("channel_ticket_id", "工单编号过长，无法作为诉求编号") from err
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

    The reporter's name and phone are sealed (encrypted) for the vault, which the case itself writes with its
    first projection; the workflow's state carries only the reference and a masked phone. With the policy
    (checked by `check_intake`), the case starts with its snapshot and routing and is dispatched in its first
    workflow task; without it, the workflow takes them with an activity.
    """
    known = await asyncio.to_thread(known_case, vault.engine, intake.channel, intake.channel_ticket_id)
    if known is not None:
        return await _existing(case_handle(client, known), timeout)
    sealed = None
    if reporter is not None:
        try:
            sealed = vault.seal(name=reporter[0], phone=reporter[1], confidential=intake.reporter.confidential)
        except ValueError as err:
            raise IntakeError("reporter.phone", "诉求人电话格式不正确：须为手机号或固定电话") from err
        intake = intake.model_copy(update={"reporter": sealed.reference()})
    # Of callers racing with one ticket, only the first start counts; the case keeps that caller's token.
    token = uuid.uuid4().hex
    options = start_options(task_queue, intake, policy, intake_token=token, sealed_reporter=sealed)
    handle = case_handle(client, options["id"])
    start = WithStartWorkflowOperation(CaseWorkflow.run, **options)
    try:
        answer = await client.execute_update_with_start_workflow(
            CaseWorkflow.opened, start_workflow_operation=start, rpc_timeout=timeout
        )
    except WorkflowAlreadyStartedError:
        # Struck off already (a closed case is never started again), and the read model did not know it yet.
        return await _existing(handle, timeout)
    except RPCTimeoutOrCancelledError as out_of_time:
        # The start operation holds the same timeout; take it, or asyncio reports it as never retrieved.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(start.workflow_handle(), 1)
        # Only a case the server has is "accepted" (dispatch under way). If the call ran out before the start was
        # stored, the time-out goes to the caller (503: send the ticket again), so nothing is claimed and lost.
        try:
            first = await _first_input(client, handle)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise out_of_time from None
            raise
        return Opened(handle, first.intake_token != token)
    return Opened(handle, answer.intake_token != token, answer.view)


async def _existing(handle: CaseHandle, timeout: timedelta) -> Opened:
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


async def _first_input(client: Client, handle: CaseHandle) -> CaseInput:
    """The input the case's current run started with (its first history event)."""
    async for event in handle.fetch_history_events(rpc_timeout=QUERY_TIMEOUT):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [inp] = await client.data_converter.decode(payloads, [CaseInput])
        return inp  # type: ignore[no-any-return]
    raise RPCError("the case has no history", RPCStatusCode.NOT_FOUND, b"")


def known_case(engine: Engine, channel: str, channel_ticket_id: str) -> str | None:
    """The case a channel's ticket already is, by the read model: whatever id scheme it was started under."""
    with Session(engine) as session:
        return session.exec(
            select(CaseRow.case_id).where(CaseRow.channel == channel, CaseRow.channel_ticket_id == channel_ticket_id)
        ).first()


def start_options(
    task_queue: str,
    intake: Intake,
    policy: Policy | None,
    *,
    intake_token: str | None = None,
    sealed_reporter: SealedReporter | None = None,
) -> dict[str, Any]:
    """One workflow per case, its id derived from the ticket: a repeat joins the running case, and a case
    already struck off is never started again."""
    case_id = case_id_for(intake.channel, intake.channel_ticket_id)
    opened = snapshot_case(policy, intake, datetime.now(UTC).date()) if policy else None
    category = opened.policy.category.name if opened else intake.category
    return {
        # What the Temporal Web UI's list shows of the case (the case keeps its current holder in its details).
        "static_summary": f"{intake.title}（{category}）",
        "static_details": (
            f"**{intake.title}**  \n类别：{category}  \n渠道：{intake.channel}，工单 {intake.channel_ticket_id}  \n"
            f"网格：{intake.location.grid_id}，{intake.location.address}"
        ),
        "arg": CaseInput(
            intake=intake,
            case_id=case_id,
            opened=opened,
            rules=RULES_2026_12,
            intake_token=intake_token,
            sealed_reporter=sealed_reporter,
        ),
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
