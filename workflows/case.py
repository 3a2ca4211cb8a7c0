"""CaseWorkflow: the whole life of one case, from 受理 to 销号, with its deadlines as timers.

Every user action is an Update whose validator rejects a wrong actor, a wrong state or bad input before
anything reaches history. The handler re-checks under the lock, because another update may have changed the
case while this one waited.
"""

# Annotations stay objects (no `from __future__ import annotations`): the sandbox executes this module anew for
# every case it runs, and temporalio would parse each handler's string annotations again each time.
import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models import search
    from models.case import (
        DEADLINE_LABEL,
        EVENT_LABEL,
        RATING_LABEL,
        STATUS_LABEL,
        SYSTEM,
        UNSATISFIED,
        WHISTLE_KIND_LABEL,
        Action,
        Actor,
        CaseEvent,
        CaseInput,
        CasePolicy,
        CaseState,
        CaseView,
        CloseAction,
        ClosureRecord,
        Deadline,
        DeadlineKind,
        DeadlineRecord,
        DeadlineRef,
        EscalateAction,
        EventKind,
        ExtensionDecision,
        ExtensionRequest,
        MergeAction,
        Notice,
        OpenCaseResult,
        Outcome,
        PendingExtension,
        PendingReturn,
        Plan,
        RateAction,
        Rating,
        RedispatchAction,
        RejectAction,
        ReplyAction,
        ResumeAction,
        ReturnAction,
        ReturnDecision,
        Role,
        SignAction,
        Status,
        SuperviseAction,
        SuspendAction,
        UnitRecord,
        UrgeAction,
        WhistleAction,
        WhistleInput,
        WhistleSummary,
        WithdrawAction,
    )
    from models.io import CaseRowData, MergeNote, OpenCaseInput, RecordInput, WhistleNote
    from models.policy import Limit, Tier
    from policy.routing import approver, next_tier
    from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, plan, reject
    from workflows.deadlines import DeadlineBook, Point, ref
    from workflows.whistle import WhistleWorkflow

RECENT_REQUESTS = 200

A = TypeVar("A", bound=Action)


@workflow.defn(name="Case")
class CaseWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self.s: CaseState = inp.state or CaseState(case_id=inp.case_id, intake=inp.intake)
        self.book = DeadlineBook(self.s.deadlines)
        self.lock = asyncio.Lock()
        self.changed = False
        self.events_at_start = len(self.s.events)

    # ------------------------------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, inp: CaseInput) -> ClosureRecord:
        if self.s.status is Status.intake:
            async with self.lock:
                await self._receive(inp.opened)
        while self.s.status is not Status.closed:
            if self._history_is_long(inp):
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self.lock.locked())
                workflow.continue_as_new(inp.model_copy(update={"state": self.s, "opened": None}))
            await self._sleep_until_next_point()
            async with self.lock:
                await self._fire_due_points()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._closure()

    def _history_is_long(self, inp: CaseInput) -> bool:
        """A long case (many 重办, 延期, reminders) starts a fresh run carrying its state."""
        grown = len(self.s.events) - self.events_at_start
        return workflow.info().is_continue_as_new_suggested() or grown >= inp.continue_after_events

    async def _sleep_until_next_point(self) -> None:
        """The movable timer: any change to the case wakes it to re-plan."""
        self.changed = False
        nxt = None if self.s.status is Status.suspended else self.book.next_point()
        timeout = None if nxt is None else nxt - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self.changed, timeout=timeout)
        except TimeoutError:
            pass

    async def _fire_due_points(self) -> None:
        if self.s.status in (Status.closed, Status.suspended):
            return
        for item in self.book.due(workflow.now()):
            d = item.deadline
            if not d.open:  # an earlier point in this batch closed it
                continue
            unit = self._name(d.unit_id)
            label = DEADLINE_LABEL[d.kind]
            if item.point is Point.urge:
                self._event(
                    EventKind.urge,
                    SYSTEM,
                    d.unit_id,
                    f"系统催办：{unit}的{label}将于{self._local(d.due_at)}到期",
                    deadline=ref(d),
                    notices=[Notice(to=d.unit_id, text=f"【催办】{self._brief()}：{label}即将到期")],
                )
            elif item.point is Point.miss:
                self._event(EventKind.overdue, SYSTEM, d.unit_id, f"{unit}超过{label}", deadline=ref(d))
                self._event(
                    EventKind.supervise,
                    SYSTEM,
                    d.unit_id,
                    f"系统督办：{unit}{label}已超期",
                    notices=[
                        Notice(to=d.unit_id, text=f"【督办】{self._brief()}：{label}已超期，请立即办理"),
                        Notice(to="supervisor", text=f"【督办】{self._brief()}：{unit}{label}已超期"),
                    ],
                )
                await self._on_missed(d)
            else:
                self._event(
                    EventKind.public_notice,
                    SYSTEM,
                    d.unit_id,
                    f"通报：{unit}督办后仍超期",
                    deadline=ref(d),
                    notices=[Notice(to="supervisor", text=f"【通报】{self._brief()}：{unit}督办后仍超期")],
                )
        await self._project()

    async def _on_missed(self, d: Deadline) -> None:
        if d.kind is DeadlineKind.tier and d.unit_id == self.s.holder:
            above = next_tier(self._policy().directory, d.unit_id)
            if above is not None:
                self._event(
                    EventKind.auto_escalate,
                    SYSTEM,
                    d.unit_id,
                    f"{self._name(d.unit_id)}本级时限届满，自动上报至{above.name}",
                    data={"to": above.id},
                    deadline=ref(d),
                )
                await self._assign(above.id, above.tier)
        elif d.kind is DeadlineKind.rating and self.s.status is Status.replied:
            self._event(
                EventKind.rate,
                SYSTEM,
                self.s.replied_by,
                "评价期限届满，群众未评价",
                data={"level": "unrated", "replied_by": self.s.replied_by or ""},
            )
            await self._close(Outcome.unrated, SYSTEM, "未评价，期满销号")

    # ------------------------------------------------------------------------------------------ intake

    async def _receive(self, opened: OpenCaseResult | None) -> None:
        now = workflow.now()
        intake = self.s.intake
        if opened is None:
            # Started without the 受理 service's snapshot (a direct start, or a case from before it took one).
            try:
                opened = await workflow.execute_local_activity(
                    "open_case",
                    OpenCaseInput(case_id=self.s.case_id, intake=intake),
                    result_type=OpenCaseResult,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
            except (ActivityError, ApplicationError) as err:
                # The 受理 service validates category and grid first; this guards a direct start with bad data.
                self._event(EventKind.reject, SYSTEM, None, f"不予受理：{err.cause or err}")
                await self._close(Outcome.rejected, SYSTEM, "无法受理，销号")
                await self._project()
                return
        self.s.policy, self.s.routing = opened.policy, opened.routing
        p = opened.policy
        reply_limit = p.category.reply_limit or p.limits.reply
        dispatch_plan, reply_plan = await self._plan((intake.reported_at, p.limits.dispatch), (now, reply_limit))
        self._event(
            EventKind.intake,
            Actor(role=Role.channel, id=intake.channel),
            None,
            f"{intake.channel}受理：{intake.title}（{p.category.name}，{STATUS_LABEL[Status.intake]}）",
            data={"category": p.category.id, "urgency": p.urgency.value, "policy": p.version},
        )
        dispatch = self.book.add(DeadlineKind.dispatch, p.directory.supervisor.id, intake.reported_at, dispatch_plan)
        dispatch.closed_at = now
        dispatch.missed = now > dispatch.due_at
        reply = self.book.add(DeadlineKind.reply, opened.routing.lead, now, reply_plan)
        routing = opened.routing
        helpers = "、".join(self._name(u) for u in routing.assisting)
        # One dispatch event per arrival at a unit: the 响应率 counts signs against these.
        self._event(
            EventKind.dispatch,
            SYSTEM,
            routing.lead,
            f"按{routing.rule}原则派单至{self._name(routing.lead)}（牵头）"
            + (f"，协办：{helpers}" if helpers else "")
            + f"；办结时限{self._local(reply.due_at)}（{reply_limit}）",
            data={
                "rule": routing.rule,
                "assisting": ",".join(routing.assisting),
                "reply_due": reply.due_at.isoformat(),
            },
            deadline=ref(dispatch),
            notices=[Notice(to=u, text=f"【协办】{self._brief()}") for u in routing.assisting],
        )
        await self._assign(routing.lead, routing.tier, announce=False)
        await self._project()

    # ------------------------------------------------------------------------------------------ updates

    @workflow.update
    async def sign(self, a: SignAction) -> CaseView:
        return await self._act(a, self._check_sign, self._do_sign)

    @sign.validator
    def _v_sign(self, a: SignAction) -> None:
        self._check_sign(a)

    def _check_sign(self, a: SignAction) -> None:
        self._check_holder(a, "签收", Status.dispatched)

    async def _do_sign(self, a: SignAction) -> None:
        closed = self.book.close(workflow.now(), DeadlineKind.sign, unit_id=self.s.holder)
        self.s.status = Status.handling
        self._event(
            EventKind.sign,
            a.actor,
            self.s.holder,
            f"{self._name(self.s.holder)}签收",
            deadline=ref(closed[0]) if closed else None,
        )

    @workflow.update
    async def return_case(self, a: ReturnAction) -> CaseView:
        return await self._act(a, self._check_return, self._do_return)

    @return_case.validator
    def _v_return(self, a: ReturnAction) -> None:
        self._check_return(a)

    def _check_return(self, a: ReturnAction) -> None:
        self._check_holder(a, "退单", Status.dispatched, Status.handling)
        self._check_no_whistle("退单")

    async def _do_return(self, a: ReturnAction) -> None:
        holder = self._holder()
        to = approver(self._policy().directory, holder)
        self.s.pending_return = PendingReturn(unit_id=holder, previous=self.s.status, reason=a.reason, approver=to)
        self.s.status = Status.return_pending
        self._event(
            EventKind.return_,
            a.actor,
            holder,
            f"{self._name(holder)}申请退单：{a.reason}",
            notices=[Notice(to=to, text=f"【退单待审】{self._brief()}：{a.reason}")],
        )

    @workflow.update
    async def decide_return(self, a: ReturnDecision) -> CaseView:
        return await self._act(a, self._check_decide_return, self._do_decide_return)

    @decide_return.validator
    def _v_decide_return(self, a: ReturnDecision) -> None:
        self._check_decide_return(a)

    def _check_decide_return(self, a: ReturnDecision) -> None:
        self._check_live(a, "审核退单", Status.return_pending)
        pending = self.s.pending_return
        assert pending is not None
        self._check_approver(a, pending.approver, "审核退单")
        if a.approve:
            if not a.to_unit:
                raise reject("MissingField", "同意退单时须指定改派单位（to_unit）")
            self._check_unit(a.to_unit)
            if a.to_unit == pending.unit_id:
                raise reject("InvalidInput", "改派单位不能是退单单位本身")

    async def _do_decide_return(self, a: ReturnDecision) -> None:
        pending = self.s.pending_return
        assert pending is not None
        self.s.pending_return = None
        if a.approve and a.to_unit:
            self._event(
                EventKind.return_approved,
                a.actor,
                pending.unit_id,
                f"同意{self._name(pending.unit_id)}退单，改派至{self._name(a.to_unit)}：{a.reason}",
                data={"to": a.to_unit},
            )
            await self._assign(a.to_unit, self._tier_of(a.to_unit))
        else:
            self.s.status = pending.previous
            self._event(
                EventKind.return_refused,
                a.actor,
                pending.unit_id,
                f"驳回{self._name(pending.unit_id)}退单：{a.reason}",
                notices=[Notice(to=pending.unit_id, text=f"【退单驳回】{self._brief()}：{a.reason}")],
            )

    @workflow.update
    async def redispatch(self, a: RedispatchAction) -> CaseView:
        return await self._act(a, self._check_redispatch, self._do_redispatch)

    @redispatch.validator
    def _v_redispatch(self, a: RedispatchAction) -> None:
        self._check_redispatch(a)

    def _check_redispatch(self, a: RedispatchAction) -> None:
        self._check_supervisor(a, "改派")
        self._check_live(a, "改派", Status.dispatched, Status.handling, Status.return_pending, Status.supervisor)
        self._check_no_whistle("改派")
        self._check_unit(a.to_unit)
        if a.to_unit == self.s.holder:
            raise reject("InvalidInput", "改派单位与当前承办单位相同")

    async def _do_redispatch(self, a: RedispatchAction) -> None:
        self.s.pending_return = None
        self._event(
            EventKind.redispatch,
            a.actor,
            a.to_unit,
            f"督办改派：{self._name(self.s.holder)} → {self._name(a.to_unit)}：{a.reason}",
            data={"from": self.s.holder or "", "to": a.to_unit},
        )
        await self._assign(a.to_unit, self._tier_of(a.to_unit))

    @workflow.update
    async def escalate(self, a: EscalateAction) -> CaseView:
        return await self._act(a, self._check_escalate, self._do_escalate)

    @escalate.validator
    def _v_escalate(self, a: EscalateAction) -> None:
        self._check_escalate(a)

    def _check_escalate(self, a: EscalateAction) -> None:
        self._check_holder(a, "上报", Status.dispatched, Status.handling)
        self._check_no_whistle("上报")
        if next_tier(self._policy().directory, self._holder()) is None:
            raise reject("CannotEscalate", "街道和部门不能再上报：街道可吹哨召集部门，或申请延期")

    async def _do_escalate(self, a: EscalateAction) -> None:
        holder = self._holder()
        above = next_tier(self._policy().directory, holder)
        assert above is not None
        self._event(
            EventKind.escalate,
            a.actor,
            holder,
            f"{self._name(holder)}上报至{above.name}：{a.reason}",
            data={"to": above.id},
        )
        await self._assign(above.id, above.tier)

    @workflow.update
    async def whistle(self, a: WhistleAction) -> CaseView:
        return await self._act(a, self._check_whistle, self._do_whistle)

    @whistle.validator
    def _v_whistle(self, a: WhistleAction) -> None:
        self._check_whistle(a)

    def _check_whistle(self, a: WhistleAction) -> None:
        self._check_holder(a, "吹哨", Status.handling)
        if self.s.tier not in (Tier.community, Tier.street):
            raise reject("WrongTier", "只有社区和街道可以吹哨")
        self._check_no_whistle("再次吹哨")
        if len(set(a.departments)) != len(a.departments):
            raise reject("InvalidInput", "被召集部门重复")
        for d in a.departments:
            self._check_unit(d)
            if self._tier_of(d) is not Tier.department:
                raise reject("InvalidInput", f"{self._name(d)}不是职能部门，不能被吹哨召集")

    async def _do_whistle(self, a: WhistleAction) -> None:
        p = self._policy()
        holder = self._holder()
        n = len(self.s.whistles) + 1
        wf_id = f"{self.s.case_id}/whistle/{n}"
        await workflow.start_child_workflow(
            WhistleWorkflow.run,
            WhistleInput(
                case_id=self.s.case_id,
                n=n,
                kind=a.kind,
                whistler=holder,
                departments=a.departments,
                names={u: self._name(u) for u in (holder, *a.departments)},
                limits=p.whistle[a.kind],
                calendar=p.calendar,
                supervision=p.supervision,
                workdays=p.workdays,
            ),
            id=wf_id,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
        self.s.whistles.append(
            WhistleSummary(n=n, workflow_id=wf_id, kind=a.kind, whistler=holder, departments=a.departments)
        )
        names = "、".join(self._name(d) for d in a.departments)
        self._event(
            EventKind.whistle,
            a.actor,
            holder,
            f"{self._name(holder)}吹哨（{WHISTLE_KIND_LABEL[a.kind]}）召集{names}：{a.reason}",
            data={"n": str(n), "kind": a.kind.value, "departments": ",".join(a.departments)},
            notices=[Notice(to=d, text=f"【吹哨】{self._brief()}：请按时报到") for d in a.departments],
        )

    @workflow.signal
    def whistle_note(self, note: WhistleNote) -> None:
        """A whistle reports into the case's single timeline; its own updates were validated there.

        Synchronous on purpose: the whistle's end must be visible to the very next update's validator.
        """
        if self.s.status is Status.closed:
            return
        e = note.event
        self._event(
            e.kind, None, e.unit_id, e.text, data=e.data, deadline=e.deadline, notices=note.notices, actor_label=e.actor
        )
        if e.kind is EventKind.whistle_closed:
            for w in self.s.whistles:
                if w.n == note.n:
                    w.active = False
        self.changed = True

    @workflow.update
    async def request_extension(self, a: ExtensionRequest) -> CaseView:
        return await self._act(a, self._check_request_extension, self._do_request_extension)

    @request_extension.validator
    def _v_request_extension(self, a: ExtensionRequest) -> None:
        self._check_request_extension(a)

    def _check_request_extension(self, a: ExtensionRequest) -> None:
        self._check_holder(a, "申请延期", Status.dispatched, Status.handling)
        if self.s.pending_extension is not None:
            raise reject("AlreadyPending", "已有延期申请待审批")
        reply = self.book.find(DeadlineKind.reply)
        if reply is None or reply.missed or workflow.now() >= reply.due_at:
            raise reject("TooLate", "办结时限已过，不能再申请延期（须在时限届满前申请）")

    async def _do_request_extension(self, a: ExtensionRequest) -> None:
        holder = self._holder()
        to = approver(self._policy().directory, holder)
        self.s.pending_extension = PendingExtension(
            requested_by=a.actor.label(), unit_id=holder, amount=a.amount, reason=a.reason, approver=to
        )
        self._event(
            EventKind.extension_requested,
            a.actor,
            holder,
            f"{self._name(holder)}申请延期{a.amount}：{a.reason}",
            notices=[Notice(to=to, text=f"【延期待审】{self._brief()}：申请延期{a.amount}")],
        )

    @workflow.update
    async def decide_extension(self, a: ExtensionDecision) -> CaseView:
        return await self._act(a, self._check_decide_extension, self._do_decide_extension)

    @decide_extension.validator
    def _v_decide_extension(self, a: ExtensionDecision) -> None:
        self._check_decide_extension(a)

    def _check_decide_extension(self, a: ExtensionDecision) -> None:
        self._check_live(a, "审批延期")
        if self.s.pending_extension is None:
            raise reject("WrongState", "没有待审批的延期申请")
        self._check_approver(a, self.s.pending_extension.approver, "审批延期")

    async def _do_decide_extension(self, a: ExtensionDecision) -> None:
        pending = self.s.pending_extension
        assert pending is not None
        self.s.pending_extension = None
        if not a.approve:
            self._event(
                EventKind.extension_refused,
                a.actor,
                pending.unit_id,
                f"驳回延期申请：{a.reason}",
                notices=[Notice(to=pending.unit_id, text=f"【延期驳回】{self._brief()}：{a.reason}")],
            )
            return
        moved = [d for d in self.s.open_deadlines() if d.kind in (DeadlineKind.reply, DeadlineKind.tier)]
        plans = await self._plan(*((d.due_at, pending.amount) for d in moved))
        fraction = self._policy().supervision.urge_fraction
        for d, extended in zip(moved, plans, strict=True):
            d.due_at, d.notice_at, d.urged = extended.due_at, extended.notice_at, False
            d.urge_at = d.started_at + (extended.due_at - d.started_at) * fraction
        reply = self.book.find(DeadlineKind.reply)
        new_due = self._local(reply.due_at) if reply else "—"
        self._event(
            EventKind.extension_approved,
            a.actor,
            pending.unit_id,
            f"同意延期{pending.amount}，办结时限延至{new_due}",
            deadline=ref(reply) if reply else None,
            notices=[
                Notice(to=pending.unit_id, text=f"【延期批准】{self._brief()}：办结时限延至{new_due}"),
                Notice(
                    to="reporter", text=f"您反映的“{self.s.intake.title}”办理时限延至{new_due}，原因：{pending.reason}"
                ),
            ],
        )

    @workflow.update
    async def suspend(self, a: SuspendAction) -> CaseView:
        return await self._act(a, self._check_suspend, self._do_suspend)

    @suspend.validator
    def _v_suspend(self, a: SuspendAction) -> None:
        self._check_suspend(a)

    def _check_suspend(self, a: SuspendAction) -> None:
        if a.actor.role is Role.supervisor:
            self._check_live(a, "挂账", Status.dispatched, Status.handling)
        else:
            self._check_holder(a, "挂账", Status.dispatched, Status.handling)
        self._check_no_whistle("挂账")

    async def _do_suspend(self, a: SuspendAction) -> None:
        self.s.suspended_from, self.s.suspended_at = self.s.status, workflow.now()
        self.s.status = Status.suspended
        self._event(
            EventKind.suspend,
            a.actor,
            self.s.holder,
            f"挂账：{a.reason}",
            notices=[
                Notice(to="supervisor", text=f"【挂账】{self._brief()}：{a.reason}"),
                Notice(to="reporter", text=f"您反映的“{self.s.intake.title}”需阶段性办理，已挂账：{a.reason}"),
            ],
        )

    @workflow.update
    async def resume(self, a: ResumeAction) -> CaseView:
        return await self._act(a, self._check_resume, self._do_resume)

    @resume.validator
    def _v_resume(self, a: ResumeAction) -> None:
        self._check_resume(a)

    def _check_resume(self, a: ResumeAction) -> None:
        if a.actor.role is Role.supervisor:
            self._check_live(a, "恢复办理", Status.suspended)
        else:
            self._check_holder(a, "恢复办理", Status.suspended)

    async def _do_resume(self, a: ResumeAction) -> None:
        assert self.s.suspended_at is not None and self.s.suspended_from is not None
        paused = workflow.now() - self.s.suspended_at
        self.book.shift(paused)
        self.s.status, self.s.suspended_at, self.s.suspended_from = self.s.suspended_from, None, None
        self._event(EventKind.resume, a.actor, self.s.holder, f"恢复办理（挂账{self._duration(paused)}）：{a.reason}")

    @workflow.update
    async def reply(self, a: ReplyAction) -> CaseView:
        return await self._act(a, self._check_reply, self._do_reply)

    @reply.validator
    def _v_reply(self, a: ReplyAction) -> None:
        self._check_reply(a)

    def _check_reply(self, a: ReplyAction) -> None:
        self._check_holder(a, "办结", Status.handling)
        if self.s.active_whistle is not None:
            raise reject("WhistleActive", "吹哨尚未完结（事不完、人不撤）：请先确认各部门撤离并完成评价")

    async def _do_reply(self, a: ReplyAction) -> None:
        now = workflow.now()
        holder = self._holder()
        closed = self.book.close(now, DeadlineKind.sign, DeadlineKind.tier, DeadlineKind.reply)
        reply = next((d for d in closed if d.kind is DeadlineKind.reply), None)
        self.s.status, self.s.replied_by, self.s.reply = Status.replied, holder, a.result
        (rating_plan,) = await self._plan((now, self._policy().rating.window))
        self.book.add(DeadlineKind.rating, holder, now, rating_plan)
        self._event(
            EventKind.reply,
            a.actor,
            holder,
            f"{self._name(holder)}办结：{a.result}",
            data={"contacted_reporter": str(a.contacted_reporter).lower()},
            deadline=ref(reply) if reply else None,
            notices=[Notice(to="reporter", text=f"您反映的“{self.s.intake.title}”已办结，请对办理结果进行评价")],
        )

    @workflow.update
    async def rate(self, a: RateAction) -> CaseView:
        return await self._act(a, self._check_rate, self._do_rate)

    @rate.validator
    def _v_rate(self, a: RateAction) -> None:
        self._check_rate(a)

    def _check_rate(self, a: RateAction) -> None:
        self._check_channel(a, "评价")
        self._check_live(a, "评价", Status.replied)

    async def _do_rate(self, a: RateAction) -> None:
        now = workflow.now()
        closed = self.book.close(now, DeadlineKind.rating)
        self.s.rating = Rating(level=a.level, solved=a.solved, comment=a.comment, at=now)
        solved = "已解决" if a.solved else "未解决"
        self._event(
            EventKind.rate,
            a.actor,
            self.s.replied_by,
            f"群众评价：{RATING_LABEL[a.level]}，{solved}",
            data={"level": a.level, "solved": str(a.solved).lower(), "replied_by": self.s.replied_by or ""},
            deadline=ref(closed[0]) if closed else None,
        )
        if a.level not in UNSATISFIED:
            await self._close(Outcome.rated, a.actor, f"群众评价{RATING_LABEL[a.level]}，销号")
            return
        rules = self._policy().rating
        self.s.reopen_count += 1
        replied_by = self.s.replied_by or self._holder()
        if self.s.reopen_count > rules.reopen_cap:
            supervisor = self._policy().directory.supervisor.id
            self.s.holder, self.s.tier, self.s.status = supervisor, Tier.district, Status.supervisor
            self._event(
                EventKind.to_supervisor,
                SYSTEM,
                supervisor,
                f"重办已达上限（{rules.reopen_cap}次），转{self._name(supervisor)}处置",
                notices=[Notice(to="supervisor", text=f"【重办超限】{self._brief()}：请督办处置")],
            )
            return
        self._event(
            EventKind.reopen,
            SYSTEM,
            replied_by,
            f"群众不满意，第{self.s.reopen_count}次重办，退回{self._name(replied_by)}，时限{rules.reopen_limit}",
            data={"n": str(self.s.reopen_count)},
        )
        await self._assign(replied_by, self._tier_of(replied_by), reply_limit=rules.reopen_limit)

    @workflow.update
    async def withdraw(self, a: WithdrawAction) -> CaseView:
        return await self._act(a, self._check_withdraw, self._do_withdraw)

    @withdraw.validator
    def _v_withdraw(self, a: WithdrawAction) -> None:
        self._check_withdraw(a)

    def _check_withdraw(self, a: WithdrawAction) -> None:
        self._check_channel(a, "撤回")
        self._check_live(
            a, "撤回", Status.dispatched, Status.handling, Status.return_pending, Status.suspended, Status.supervisor
        )

    async def _do_withdraw(self, a: WithdrawAction) -> None:
        self._event(EventKind.withdraw, a.actor, self.s.holder, f"诉求人撤回：{a.reason}")
        await self._close(Outcome.withdrawn, a.actor, "撤回，销号")

    @workflow.update
    async def merge(self, a: MergeAction) -> CaseView:
        return await self._act(a, self._check_merge, self._do_merge)

    @merge.validator
    def _v_merge(self, a: MergeAction) -> None:
        self._check_merge(a)

    def _check_merge(self, a: MergeAction) -> None:
        self._check_supervisor(a, "合并")
        self._check_live(
            a, "合并", Status.dispatched, Status.handling, Status.return_pending, Status.suspended, Status.supervisor
        )
        if a.into_case_id == self.s.case_id:
            raise reject("InvalidInput", "不能合并到本诉求自身")

    async def _do_merge(self, a: MergeAction) -> None:
        if workflow.patched("merge-tells-target"):
            # First, so that a target that is not there refuses the merge before this case changes.
            note = MergeNote(case_id=self.s.case_id, reason=a.reason, actor=a.actor.label())
            try:
                await workflow.get_external_workflow_handle(a.into_case_id).signal(CaseWorkflow.merged_in, note)
            except ApplicationError as err:
                raise reject("MergeTargetNotFound", f"合并目标{a.into_case_id}不存在或已销号") from err
        self._event(
            EventKind.merge,
            a.actor,
            self.s.holder,
            f"合并至{a.into_case_id}：{a.reason}",
            data={"into": a.into_case_id},
        )
        await self._close(Outcome.merged, a.actor, f"重复诉求，并入{a.into_case_id}，销号")

    @workflow.signal
    def merged_in(self, note: MergeNote) -> None:
        """A duplicate was merged into this case: its timeline records it, and its holder is told."""
        if self.s.status is Status.closed:
            return
        holder = self.s.holder
        told = [Notice(to=holder, text=f"【合并】{self._brief()}：重复诉求{note.case_id}已并入")] if holder else []
        self._event(
            EventKind.merged_in,
            None,
            holder,
            f"重复诉求{note.case_id}并入本件：{note.reason}",
            data={"from": note.case_id},
            notices=told,
            actor_label=note.actor,
        )
        self.changed = True

    @workflow.update
    async def reject_case(self, a: RejectAction) -> CaseView:
        return await self._act(a, self._check_reject, self._do_reject)

    @reject_case.validator
    def _v_reject(self, a: RejectAction) -> None:
        self._check_reject(a)

    def _check_reject(self, a: RejectAction) -> None:
        self._check_supervisor(a, "不予受理")
        self._check_live(a, "不予受理", Status.dispatched, Status.return_pending)

    async def _do_reject(self, a: RejectAction) -> None:
        self._event(
            EventKind.reject,
            a.actor,
            self.s.holder,
            f"不予受理：{a.reason}",
            notices=[Notice(to="reporter", text=f"您反映的“{self.s.intake.title}”不属于受理范围：{a.reason}")],
        )
        await self._close(Outcome.rejected, a.actor, "不予受理，销号")

    @workflow.update
    async def urge(self, a: UrgeAction) -> CaseView:
        return await self._act(a, self._check_oversight, self._do_urge)

    @urge.validator
    def _v_urge(self, a: UrgeAction) -> None:
        self._check_oversight(a)

    async def _do_urge(self, a: UrgeAction) -> None:
        self._event(
            EventKind.urge,
            a.actor,
            self.s.holder,
            f"督办人员催办{self._name(self.s.holder)}：{a.note}",
            notices=[Notice(to=self._holder(), text=f"【催办】{self._brief()}：{a.note}")],
        )

    @workflow.update
    async def supervise(self, a: SuperviseAction) -> CaseView:
        return await self._act(a, self._check_oversight, self._do_supervise)

    @supervise.validator
    def _v_supervise(self, a: SuperviseAction) -> None:
        self._check_oversight(a)

    def _check_oversight(self, a: UrgeAction | SuperviseAction) -> None:
        self._check_supervisor(a, "催办/督办")
        self._check_live(a, "催办/督办", Status.dispatched, Status.handling, Status.return_pending, Status.suspended)

    async def _do_supervise(self, a: SuperviseAction) -> None:
        self._event(
            EventKind.supervise,
            a.actor,
            self.s.holder,
            f"督办{self._name(self.s.holder)}：{a.note}",
            notices=[Notice(to=self._holder(), text=f"【督办】{self._brief()}：{a.note}")],
        )

    @workflow.update
    async def close(self, a: CloseAction) -> CaseView:
        return await self._act(a, self._check_close, self._do_close)

    @close.validator
    def _v_close(self, a: CloseAction) -> None:
        self._check_close(a)

    def _check_close(self, a: CloseAction) -> None:
        self._check_supervisor(a, "督办销号")
        self._check_live(a, "督办销号", Status.supervisor)

    async def _do_close(self, a: CloseAction) -> None:
        await self._close(Outcome.closed_by_supervisor, a.actor, f"督办处置销号：{a.reason}")

    @workflow.update
    async def opened(self) -> CaseView:
        """Answers once intake and dispatch are done and recorded: the channel's start-and-wait in one call."""
        await workflow.wait_condition(lambda: self.s.status is not Status.intake and self.s.projected_seq > 0)
        return self.view()

    # ------------------------------------------------------------------------------------------ queries

    @workflow.query
    def view(self) -> CaseView:
        s = self.s
        return CaseView(
            case_id=s.case_id,
            status=s.status,
            status_label=STATUS_LABEL[s.status],
            channel=s.intake.channel,
            channel_ticket_id=s.intake.channel_ticket_id,
            category=s.intake.category,
            urgency=s.policy.urgency if s.policy else s.intake.urgency,
            title=s.intake.title,
            holder=s.holder,
            tier=s.tier,
            reporter=s.intake.reporter,
            reopen_count=s.reopen_count,
            rating=s.rating,
            overdue=s.overdue,
            next_deadline=s.next_deadline,
            deadlines=s.deadlines,
            pending_return=s.pending_return,
            pending_extension=s.pending_extension,
            whistles=s.whistles,
            outcome=s.outcome,
            closed_at=s.closed_at,
            policy_version=s.policy.version if s.policy else None,
            last_seq=len(s.events),
            recorded_seq=s.projected_seq,
        )

    @workflow.query
    def events(self, since: int = 0) -> list[CaseEvent]:
        return self.s.events[since:]

    # ------------------------------------------------------------------------------------------ checks

    def _check_live(self, a: Action, what: str, *allowed: Status) -> None:
        if self.s.status is Status.closed:
            raise reject("CaseClosed", "该诉求已销号，不能再操作")
        if self.s.status is Status.intake:
            raise reject("NotReady", "该诉求正在受理派单，请稍后再试")
        if a.request_id and a.request_id in self.s.request_ids:
            raise reject("DuplicateRequest", "重复提交：该请求已处理")
        if allowed and self.s.status not in allowed:
            raise reject("WrongState", f"当前状态为“{STATUS_LABEL[self.s.status]}”，不能{what}")

    def _check_holder(self, a: Action, what: str, *allowed: Status) -> None:
        self._check_live(a, what, *allowed)
        if a.actor.role is not Role.unit or a.actor.unit_id != self.s.holder:
            raise reject("WrongActor", f"只有当前承办单位（{self._name(self.s.holder)}）可以{what}")

    def _check_supervisor(self, a: Action, what: str) -> None:
        if a.actor.role is not Role.supervisor:
            raise reject("WrongActor", f"只有督办人员可以{what}")

    def _check_approver(self, a: Action, approver_unit: str, what: str) -> None:
        if a.actor.role is Role.supervisor:
            return
        if a.actor.role is not Role.unit or a.actor.unit_id != approver_unit:
            raise reject("WrongActor", f"只有{self._name(approver_unit)}或督办人员可以{what}")

    def _check_channel(self, a: Action, what: str) -> None:
        if a.actor.role is not Role.channel or a.actor.id != self.s.intake.channel:
            raise reject("WrongActor", f"只有受理该诉求的渠道（{self.s.intake.channel}）可以代群众{what}")

    def _check_no_whistle(self, what: str) -> None:
        if self.s.active_whistle is not None:
            raise reject("WhistleActive", f"吹哨进行中，不能{what}")

    def _check_unit(self, unit_id: str) -> None:
        if self._policy().directory.get(unit_id) is None:
            raise reject("UnknownUnit", f"未知单位：{unit_id}")

    # ------------------------------------------------------------------------------------------ mechanics

    async def _act(self, a: A, check: Callable[[A], None], do: Callable[[A], Awaitable[None]]) -> CaseView:
        async with self.lock:
            check(a)
            await do(a)
            # Only once done: a refused action (a merge whose target is gone) may be sent again with its key.
            if a.request_id:
                self.s.request_ids = [*self.s.request_ids[-RECENT_REQUESTS + 1 :], a.request_id]
            await self._project()
        self.changed = True
        return self.view()

    async def _assign(
        self, unit_id: str, tier: Tier, *, announce: bool = True, reply_limit: Limit | None = None
    ) -> None:
        """The case arrives at a unit: it must sign, and a climbing tier gets its slice of the reply limit."""
        now = workflow.now()
        p = self._policy()
        # An unsigned arrival that the case leaves is not a sign met; a tier left by 上报 in time is.
        self.book.close(now, DeadlineKind.sign, cancel=True)
        self.book.close(now, DeadlineKind.tier)
        self.s.holder, self.s.tier, self.s.status = unit_id, tier, Status.dispatched
        if reply_limit is None and self.book.find(DeadlineKind.reply) is None:
            # Back from 重办 or the supervisor: the unit gets a fresh reply limit of its own.
            reply_limit = p.rating.reopen_limit
        wants: list[tuple[DeadlineKind, Limit]] = [(DeadlineKind.sign, p.limits.sign)]
        if reply_limit is not None:
            wants.append((DeadlineKind.reply, reply_limit))
        elif tier in p.limits.tier_slices:
            wants.append((DeadlineKind.tier, p.limits.tier_slices[tier]))
        plans = await self._plan(*((now, limit) for _, limit in wants))
        reply = self.book.find(DeadlineKind.reply)
        for (kind, _), planned in zip(wants, plans, strict=True):
            if kind is DeadlineKind.tier and reply is not None and planned.due_at > reply.due_at:
                planned = Plan(
                    due_at=reply.due_at, urge_at=min(planned.urge_at, reply.urge_at), notice_at=reply.notice_at
                )
            self.book.add(kind, unit_id, now, planned)
        if announce:
            self._event(
                EventKind.dispatch,
                SYSTEM,
                unit_id,
                f"派单至{self._name(unit_id)}",
                notices=[Notice(to=unit_id, text=f"【新工单】{self._brief()}：请在{p.limits.sign}内签收")],
            )
        else:
            self.s.pending_notices.append(
                (len(self.s.events), Notice(to=unit_id, text=f"【新工单】{self._brief()}：请在{p.limits.sign}内签收"))
            )

    async def _close(self, outcome: Outcome, actor: Actor, text: str) -> None:
        now = workflow.now()
        self.book.close(now, *DeadlineKind, cancel=True)
        self.s.status, self.s.outcome, self.s.closed_at = Status.closed, outcome, now
        self.s.pending_return = self.s.pending_extension = None
        self._event(
            EventKind.close,
            actor,
            self.s.holder,
            text,
            data={"outcome": outcome.value},
            notices=[Notice(to="reporter", text=f"您反映的“{self.s.intake.title}”已办理完毕（{text}），感谢您的监督")],
        )
        for w in self.s.whistles:
            if w.active:
                # A case that ends (撤回, 合并) takes its whistle down with it.
                w.active = False
                await workflow.get_external_workflow_handle(w.workflow_id).cancel()

    async def _plan(self, *items: tuple[datetime, Limit]) -> list[Plan]:
        p = self._policy()
        return await plan(items, p.calendar, p.supervision, p.workdays)

    def _event(
        self,
        kind: EventKind,
        actor: Actor | None,
        unit_id: str | None,
        text: str,
        *,
        data: dict[str, str] | None = None,
        deadline: DeadlineRef | None = None,
        notices: list[Notice] | None = None,
        actor_label: str | None = None,
    ) -> None:
        seq = len(self.s.events) + 1
        tier = self._tier_of(unit_id) if unit_id and self.s.policy else None
        self.s.events.append(
            CaseEvent(
                seq=seq,
                at=workflow.now(),
                kind=kind,
                actor=actor_label or (actor.label() if actor else "system"),
                unit_id=unit_id,
                tier=tier,
                text=text,
                data=data or {},
                deadline=deadline,
            )
        )
        self.s.pending_notices.extend((seq, n) for n in notices or [])

    async def _project(self) -> None:
        """Write new events and notices to the read model and the outbox; refresh the search attributes."""
        s = self.s
        upto, notices = len(s.events), list(s.pending_notices)
        new = s.events[s.projected_seq : upto]
        if not new and not notices:
            return
        reply = next((d for d in reversed(s.deadlines) if d.kind is DeadlineKind.reply), None)
        replied_at = next((e.at for e in reversed(s.events) if e.kind is EventKind.reply), None)
        row = CaseRowData(
            status=s.status.value,
            holder=s.holder,
            awaiting=s.awaiting,
            tier=s.tier.value if s.tier else None,
            urgency=s.policy.urgency.value if s.policy else None,
            overdue=s.overdue,
            next_deadline=s.next_deadline,
            reply_due=reply.due_at if reply else None,
            replied_by=s.replied_by,
            replied_at=replied_at,
            rating=s.rating.level if s.rating else None,
            solved=s.rating.solved if s.rating else None,
            reopen_count=s.reopen_count,
            whistled=bool(s.whistles),
            outcome=s.outcome.value if s.outcome else None,
            closed_at=s.closed_at,
            policy_version=s.policy.version if s.policy else None,
        )
        await workflow.execute_local_activity(
            "record",
            RecordInput(case_id=s.case_id, intake=s.intake, row=row, events=new, notices=notices),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        # Events a signal added while the activity ran stay for the next projection.
        s.projected_seq, s.pending_notices = upto, s.pending_notices[len(notices) :]
        workflow.upsert_search_attributes(
            [
                search.CASE_STATUS.value_set(s.status.value),
                search.CASE_UNIT.value_set(s.holder or ""),
                search.CASE_TIER.value_set(s.tier.value if s.tier else ""),
                search.CASE_URGENCY.value_set(row.urgency or ""),
                search.CASE_CATEGORY.value_set(s.intake.category),
                search.CASE_OVERDUE.value_set(s.overdue),
                search.CASE_NEXT_DEADLINE.value_set(s.next_deadline)
                if s.next_deadline
                else search.CASE_NEXT_DEADLINE.value_unset(),
            ]
        )

    def _closure(self) -> ClosureRecord:
        s = self.s
        assert s.outcome is not None and s.closed_at is not None
        units: dict[str, list[str]] = {}
        for e in s.events:
            if e.unit_id and e.actor != "system":
                units.setdefault(e.unit_id, []).append(EVENT_LABEL[e.kind])
        return ClosureRecord(
            case_id=s.case_id,
            outcome=s.outcome,
            closed_at=s.closed_at,
            category=s.intake.category,
            urgency=s.policy.urgency if s.policy else None,
            rating=s.rating,
            reopen_count=s.reopen_count,
            replied_by=s.replied_by,
            reply=s.reply,
            units=[UnitRecord(unit_id=u, actions=a) for u, a in units.items()],
            deadlines=[
                DeadlineRecord(
                    kind=d.kind,
                    unit_id=d.unit_id,
                    started_at=d.started_at,
                    due_at=d.due_at,
                    closed_at=d.closed_at,
                    met=d.met,
                )
                for d in s.deadlines
            ],
            events=len(s.events),
            policy_version=s.policy.version if s.policy else None,
        )

    # ------------------------------------------------------------------------------------------ helpers

    def _policy(self) -> CasePolicy:
        if self.s.policy is None:
            raise reject("NotReady", "该诉求正在受理派单，请稍后再试")
        return self.s.policy

    def _holder(self) -> str:
        assert self.s.holder is not None
        return self.s.holder

    def _name(self, unit_id: str | None) -> str:
        if unit_id is None:
            return "—"
        unit = self.s.policy.directory.get(unit_id) if self.s.policy else None
        return unit.name if unit else unit_id

    def _tier_of(self, unit_id: str) -> Tier:
        unit = self._policy().directory.get(unit_id)
        return unit.tier if unit else Tier.department

    def _brief(self) -> str:
        return f"{self.s.case_id}“{self.s.intake.title}”"

    def _local(self, at: datetime) -> str:
        # Staff read Beijing time; the offset is fixed, so no tz database is needed in the sandbox.
        return (at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def _duration(d: timedelta) -> str:
        hours = d.total_seconds() / 3600
        return f"{hours / 24:.1f}天" if hours >= 24 else f"{hours:.1f}小时"
