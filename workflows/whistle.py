"""WhistleWorkflow: one 吹哨, a child of its case.

Each summoned department must 报到 within its limit, contact the whistler and finish within the kind's limit;
事不完、人不撤: it is released only when the whistler confirms. Afterwards the whistler rates every department
(双考核). Every step is told to the parent case, which keeps the one timeline.
"""

# Annotations stay objects (no `from __future__ import annotations`): the sandbox executes this module anew for
# every whistle it runs, and temporalio would parse each handler's string annotations again each time.
import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import (
        DEADLINE_LABEL,
        WHISTLE_KIND_LABEL,
        Action,
        CaseEvent,
        ContactAction,
        DeadlineKind,
        DeadlineRef,
        DepartmentState,
        EventKind,
        Notice,
        RateDepartmentsAction,
        ReleaseAction,
        ReportAction,
        Role,
        WhistleInput,
        WhistleResult,
        WhistleView,
    )
    from models.io import WhistleNote
    from workflows.common import plan, reject
    from workflows.deadlines import DeadlineBook, Point, ref

A = TypeVar("A", bound=Action)


@workflow.defn(name="Whistle")
class WhistleWorkflow:
    @workflow.init
    def __init__(self, inp: WhistleInput) -> None:
        self.inp = inp
        self.departments = {d: DepartmentState(unit_id=d) for d in inp.departments}
        self.book = DeadlineBook([])
        self.lock = asyncio.Lock()
        self.changed = False
        self.rated = False
        self.ready = False

    @workflow.run
    async def run(self, inp: WhistleInput) -> WhistleResult:
        async with self.lock:
            await self._summon()
        while not self.rated:
            self.changed = False
            nxt = self.book.next_point()
            timeout = None if nxt is None else nxt - workflow.now()
            if timeout is None or timeout > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self.changed, timeout=timeout)
                except TimeoutError:
                    pass
            async with self.lock:
                await self._fire_due_points()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return WhistleResult(n=inp.n, departments=list(self.departments.values()))

    async def _summon(self) -> None:
        now = workflow.now()
        limits = self.inp.limits
        plans = await plan(
            [(now, limits.report), (now, limits.contact), (now, limits.finish)],
            self.inp.calendar,
            self.inp.supervision,
            self.inp.workdays,
        )
        for d in self.inp.departments:
            for kind, planned in zip(
                (DeadlineKind.report, DeadlineKind.contact, DeadlineKind.finish), plans, strict=True
            ):
                self.book.add(kind, d, now, planned)
        self.ready = True

    async def _fire_due_points(self) -> None:
        for item in self.book.due(workflow.now()):
            d = item.deadline
            label = DEADLINE_LABEL[d.kind]
            if item.point is Point.urge:
                await self._tell(
                    EventKind.urge,
                    d.unit_id,
                    f"系统催办：{self._n(d.unit_id)}{label}即将到期",
                    deadline=ref(d),
                    notices=[Notice(to=d.unit_id, text=f"【吹哨催办】{self.inp.case_id}：{label}即将到期")],
                )
            elif item.point is Point.miss:
                if d.kind is DeadlineKind.report:
                    self.departments[d.unit_id].late_report = True
                await self._tell(
                    EventKind.overdue,
                    d.unit_id,
                    f"{self._n(d.unit_id)}超过{label}（{WHISTLE_KIND_LABEL[self.inp.kind]}）",
                    deadline=ref(d),
                    notices=[
                        Notice(to=d.unit_id, text=f"【吹哨督办】{self.inp.case_id}：{label}已超期"),
                        Notice(to=self.inp.whistler, text=f"【吹哨】{self._n(d.unit_id)}{label}已超期"),
                        Notice(
                            to="supervisor", text=f"【吹哨督办】{self.inp.case_id}：{self._n(d.unit_id)}{label}已超期"
                        ),
                    ],
                )
            else:
                await self._tell(
                    EventKind.public_notice,
                    d.unit_id,
                    f"通报：{self._n(d.unit_id)}督办后仍未完成{label}",
                    deadline=ref(d),
                    notices=[
                        Notice(to="supervisor", text=f"【通报】{self.inp.case_id}：{self._n(d.unit_id)}{label}超期")
                    ],
                )

    # ------------------------------------------------------------------------------------------ updates

    @workflow.update
    async def report(self, a: ReportAction) -> WhistleView:
        return await self._act(a, self._check_report, self._do_report)

    @report.validator
    def _v_report(self, a: ReportAction) -> None:
        self._check_report(a)

    def _check_report(self, a: ReportAction) -> None:
        dept = self._summoned(a, "报到")
        if dept.reported_at is not None:
            raise reject("DuplicateRequest", "已报到，无需重复报到")

    async def _do_report(self, a: ReportAction) -> None:
        unit = a.actor.unit_id or ""
        self.departments[unit].reported_at = workflow.now()
        closed = self.book.close(workflow.now(), DeadlineKind.report, unit_id=unit)
        late = bool(closed and closed[0].missed)
        await self._tell(
            EventKind.report,
            unit,
            f"{self._n(unit)}报到" + ("（迟到）" if late else ""),
            actor=a.actor.label(),
            deadline=ref(closed[0]) if closed else None,
            notices=[
                Notice(to=self.inp.whistler, text=f"【报到】{self._n(unit)}已报到" + ("（迟到）" if late else ""))
            ],
        )

    @workflow.update
    async def contact(self, a: ContactAction) -> WhistleView:
        return await self._act(a, self._check_contact, self._do_contact)

    @contact.validator
    def _v_contact(self, a: ContactAction) -> None:
        self._check_contact(a)

    def _check_contact(self, a: ContactAction) -> None:
        dept = self._summoned(a, "对接")
        if dept.reported_at is None:
            raise reject("WrongState", "请先报到")
        if dept.contacted_at is not None:
            raise reject("DuplicateRequest", "已对接，无需重复提交")

    async def _do_contact(self, a: ContactAction) -> None:
        unit = a.actor.unit_id or ""
        self.departments[unit].contacted_at = workflow.now()
        closed = self.book.close(workflow.now(), DeadlineKind.contact, unit_id=unit)
        await self._tell(
            EventKind.contact,
            unit,
            f"{self._n(unit)}已与{self._n(self.inp.whistler)}对接：{a.note}",
            actor=a.actor.label(),
            deadline=ref(closed[0]) if closed else None,
        )

    @workflow.update
    async def release(self, a: ReleaseAction) -> WhistleView:
        return await self._act(a, self._check_release, self._do_release)

    @release.validator
    def _v_release(self, a: ReleaseAction) -> None:
        self._check_release(a)

    def _check_release(self, a: ReleaseAction) -> None:
        self._check_whistler(a, "确认撤离")
        dept = self.departments.get(a.department)
        if dept is None:
            raise reject("UnknownUnit", f"{a.department}不在本次吹哨召集之列")
        if dept.reported_at is None:
            raise reject("WrongState", f"{a.department}尚未报到，不能确认撤离")
        if dept.released_at is not None:
            raise reject("DuplicateRequest", f"{a.department}已确认撤离")

    async def _do_release(self, a: ReleaseAction) -> None:
        now = workflow.now()
        self.departments[a.department].released_at = now
        closed = self.book.close(now, DeadlineKind.contact, DeadlineKind.finish, unit_id=a.department)
        finish = next((d for d in closed if d.kind is DeadlineKind.finish), None)
        await self._tell(
            EventKind.release,
            a.department,
            f"{self._n(self.inp.whistler)}确认{self._n(a.department)}任务完成，准予撤离：{a.note}",
            actor=a.actor.label(),
            deadline=ref(finish) if finish else None,
            notices=[Notice(to=a.department, text=f"【撤离】{self.inp.case_id}：吹哨任务已确认完成")],
        )

    @workflow.update
    async def rate(self, a: RateDepartmentsAction) -> WhistleView:
        return await self._act(a, self._check_rate, self._do_rate)

    @rate.validator
    def _v_rate(self, a: RateDepartmentsAction) -> None:
        self._check_rate(a)

    def _check_rate(self, a: RateDepartmentsAction) -> None:
        self._check_whistler(a, "评价报到部门")
        if self.rated:
            raise reject("DuplicateRequest", "已评价")
        waiting = [d.unit_id for d in self.departments.values() if d.released_at is None]
        if waiting:
            raise reject("WrongState", f"事不完、人不撤：{'、'.join(waiting)}尚未确认撤离")
        rated = sorted(r.department for r in a.ratings)
        if rated != sorted(self.departments):
            raise reject("InvalidInput", "须对每个被召集部门各评价一次")

    async def _do_rate(self, a: RateDepartmentsAction) -> None:
        for r in a.ratings:
            self.departments[r.department].rating = r
        self.rated = True
        data = {r.department: f"{r.speed}/{r.cooperation}/{r.result}" for r in a.ratings}
        await self._tell(
            EventKind.rate_departments,
            self.inp.whistler,
            "评价报到部门（速度/配合/效果）：" + "；".join(f"{self._n(k)} {v}" for k, v in data.items()),
            actor=a.actor.label(),
            data=data,
        )
        # Told inside the update, so the case knows the whistle is over before the whistler's next request.
        await self._tell(EventKind.whistle_closed, None, f"{WHISTLE_KIND_LABEL[self.inp.kind]}完结，各部门已撤离并评价")

    @workflow.query
    def view(self) -> WhistleView:
        return WhistleView(
            case_id=self.inp.case_id,
            n=self.inp.n,
            kind=self.inp.kind,
            whistler=self.inp.whistler,
            departments=list(self.departments.values()),
            deadlines=self.book.items,
            done=self.rated,
        )

    # ------------------------------------------------------------------------------------------ mechanics

    def _n(self, unit_id: str) -> str:
        return self.inp.names.get(unit_id, unit_id)

    def _summoned(self, a: Action, what: str) -> DepartmentState:
        self._check_ready()
        dept = self.departments.get(a.actor.unit_id or "")
        if a.actor.role is not Role.unit or dept is None:
            raise reject("WrongActor", f"只有被召集的部门可以{what}")
        return dept

    def _check_whistler(self, a: Action, what: str) -> None:
        self._check_ready()
        if a.actor.role is not Role.unit or a.actor.unit_id != self.inp.whistler:
            raise reject("WrongActor", f"只有吹哨单位（{self.inp.whistler}）可以{what}")

    def _check_ready(self) -> None:
        if not self.ready:
            raise reject("NotReady", "吹哨正在启动，请稍后再试")

    async def _act(self, a: A, check: Callable[[A], None], do: Callable[[A], Awaitable[None]]) -> WhistleView:
        async with self.lock:
            check(a)
            await do(a)
        self.changed = True
        return self.view()

    async def _tell(
        self,
        kind: EventKind,
        unit_id: str | None,
        text: str,
        *,
        actor: str = "system",
        data: dict[str, str] | None = None,
        deadline: DeadlineRef | None = None,
        notices: list[Notice] | None = None,
    ) -> None:
        """Hand the event to the parent case, whose seq orders the timeline."""
        event = CaseEvent(
            seq=0,
            at=workflow.now(),
            kind=kind,
            actor=actor,
            unit_id=unit_id,
            text=text,
            data={"whistle": str(self.inp.n), **(data or {})},
            deadline=deadline,
        )
        await workflow.get_external_workflow_handle(self.inp.case_id).signal(
            "whistle_note", WhistleNote(n=self.inp.n, event=event, notices=notices or [])
        )
