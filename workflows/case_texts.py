"""Every sentence a case writes: its timeline lines (as staff read them) and the notices that go out with them.

One function per line, named for what happened; each returns the line with its notices. Refusals stay with the
checks that raise them. Times are the case's local time (`CaseContext.local`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.case import STATUS_LABEL, Outcome, Routing, Status
from models.inputs import RATING_LABEL
from models.policy import Limit, WhistleKind
from models.timeline import DEADLINE_LABEL, Deadline, DeadlineKind, Message
from models.whistle import WHISTLE_KIND_LABEL

if TYPE_CHECKING:
    from workflows.case_context import CaseContext

SUPERVISOR = "supervisor"
REPORTER = "reporter"


@dataclass(frozen=True)
class Line:
    """A timeline sentence and the notices that go out with it."""

    text: str
    notices: tuple[Message, ...] = field(default=())


def _to(to: str, text: str) -> Message:
    return Message(to=to, text=text)


def _resident(c: CaseContext, text: str) -> Message:
    return _to(REPORTER, f"您反映的“{c.s.intake.title}”{text}")


def duration(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours / 24:.1f}天" if hours >= 24 else f"{hours:.1f}小时"


def current_details(c: CaseContext) -> str:
    """The case as the Temporal Web UI shows it beside its summary (Temporal's markdown)."""
    s = c.s
    due = f"  \n下一时限：{c.local(s.next_deadline)}" if s.next_deadline else ""
    overdue = "  \n**已超期**" if s.overdue else ""
    return f"**{STATUS_LABEL[s.status]}**  \n承办：{c.name(s.holder)}{due}{overdue}"


# ------------------------------------------------------------------------------------------ 受理, 派单


def intake(c: CaseContext, category: str) -> Line:
    i = c.s.intake
    return Line(f"{i.channel}受理：{i.title}（{category}，{STATUS_LABEL[Status.intake]}）")


def not_admissible(cause: object) -> Line:
    return Line(f"不予受理：{cause}")


def dispatched(c: CaseContext, routing: Routing, reply_due: datetime, reply_limit: Limit) -> Line:
    helpers = "、".join(c.name(u) for u in routing.assisting)
    return Line(
        f"按{routing.rule}原则派单至{c.name(routing.lead)}（牵头）"
        + (f"，协办：{helpers}" if helpers else "")
        + f"；办结时限{c.local(reply_due)}（{reply_limit}）",
        tuple(_to(u, f"【协办】{c.brief()}：由{c.name(routing.lead)}牵头办理，请配合") for u in routing.assisting),
    )


def assigned(c: CaseContext, unit_id: str, reopen: tuple[int, Limit] | None = None) -> Line:
    """派单 to a unit; `reopen` (the 重办's number and limit) when the resident sent the case back to it."""
    sign = f"请在{c.policy.limits.sign}内签收"
    if reopen is None:
        notice = f"【新工单】{c.brief()}：{sign}"
    else:
        notice = f"【重办】{c.brief()}：群众评价不满意，第{reopen[0]}次重办，{sign}，{reopen[1]}内办结"
    return Line(f"派单至{c.name(unit_id)}", (_to(unit_id, notice),))


# ------------------------------------------------------------------------------------------ timer points


def urged(c: CaseContext, d: Deadline) -> Line:
    label = DEADLINE_LABEL[d.kind]
    return Line(
        f"系统催办：{c.name(d.unit_id)}的{label}将于{c.local(d.due_at)}到期",
        (_to(d.unit_id, f"【催办】{c.brief()}：{label}即将到期"),),
    )


def overdue(c: CaseContext, d: Deadline) -> Line:
    return Line(f"{c.name(d.unit_id)}超过{DEADLINE_LABEL[d.kind]}")


def supervised_overdue(
    c: CaseContext, d: Deadline, *, whistler_leads: bool = False, moves_to: str | None = None
) -> Line:
    """督办 of a missed limit; `moves_to`: the unit the miss sends the case to (上报, 待督办改派), so the unit that
    missed is not asked to handle a case it no longer holds."""
    unit, label = c.name(d.unit_id), DEADLINE_LABEL[d.kind]
    stays = f"（已吹哨召集部门，仍由{unit}牵头办理）" if whistler_leads else ""
    then = f"已转{c.name(moves_to)}办理" if moves_to else "请立即办理"
    if moves_to and d.kind is DeadlineKind.tier and moves_to != c.policy.directory.supervisor.id:
        then = f"已自动上报至{c.name(moves_to)}"
    told = [_to(d.unit_id, f"【督办】{c.brief()}：{label}已超期，{then}")]
    if d.unit_id != c.policy.directory.supervisor.id:  # the supervisor holding the case is told once
        told.append(_to(SUPERVISOR, f"【督办】{c.brief()}：{unit}{label}已超期"))
    return Line(f"系统督办：{unit}{label}已超期{stays}", tuple(told))


def publicly_noticed(c: CaseContext, d: Deadline) -> Line:
    unit = c.name(d.unit_id)
    return Line(f"通报：{unit}督办后仍超期", (_to(SUPERVISOR, f"【通报】{c.brief()}：{unit}督办后仍超期"),))


def auto_escalated(c: CaseContext, unit_id: str, above: str) -> Line:
    return Line(f"{c.name(unit_id)}本级时限届满，自动上报至{above}")


def unrated() -> Line:
    return Line("评价期限届满，群众未评价")


# ------------------------------------------------------------------------------------------ 签收, 退单, 改派, 上报


def signed(c: CaseContext) -> Line:
    return Line(f"{c.name(c.s.holder)}签收")


def return_asked(c: CaseContext, reason: str, approver: str) -> Line:
    return Line(f"{c.name(c.s.holder)}申请退单：{reason}", (_to(approver, f"【退单待审】{c.brief()}：{reason}"),))


def return_approved(c: CaseContext, unit_id: str, to_unit: str, reason: str) -> Line:
    return Line(
        f"同意{c.name(unit_id)}退单，改派至{c.name(to_unit)}：{reason}",
        (_to(unit_id, f"【退单通过】{c.brief()}：已改派至{c.name(to_unit)}：{reason}"),),
    )


def return_refused(c: CaseContext, unit_id: str, reason: str) -> Line:
    return Line(f"驳回{c.name(unit_id)}退单：{reason}", (_to(unit_id, f"【退单驳回】{c.brief()}：{reason}"),))


def redispatched(c: CaseContext, to_unit: str, reason: str) -> Line:
    """改派 by a supervisor; the unit it takes the case from is told (the supervisor's own queue is not)."""
    holder = c.s.holder
    told: tuple[Message, ...] = ()
    if holder is not None and holder != c.policy.directory.supervisor.id:
        told = (_to(holder, f"【改派】{c.brief()}：已改派至{c.name(to_unit)}，无需继续办理：{reason}"),)
    return Line(f"督办改派：{c.name(holder)} → {c.name(to_unit)}：{reason}", told)


def escalated(c: CaseContext, above: str, reason: str) -> Line:
    return Line(f"{c.name(c.s.holder)}上报至{above}：{reason}")


# ------------------------------------------------------------------------------------------ 吹哨


def whistled(c: CaseContext, kind: WhistleKind, departments: list[str], reason: str) -> Line:
    names = "、".join(c.name(d) for d in departments)
    return Line(
        f"{c.name(c.s.holder)}吹哨（{WHISTLE_KIND_LABEL[kind]}）召集{names}：{reason}",
        tuple(_to(d, f"【吹哨】{c.brief()}：请按时报到") for d in departments),
    )


# ------------------------------------------------------------------------------------------ 延期, 挂账


def extension_asked(c: CaseContext, amount: Limit, reason: str, approver: str) -> Line:
    return Line(
        f"{c.name(c.s.holder)}申请延期{amount}：{reason}",
        (_to(approver, f"【延期待审】{c.brief()}：申请延期{amount}"),),
    )


def extension_refused(c: CaseContext, unit_id: str, reason: str) -> Line:
    return Line(f"驳回延期申请：{reason}", (_to(unit_id, f"【延期驳回】{c.brief()}：{reason}"),))


def extension_approved(c: CaseContext, unit_id: str, amount: Limit, new_due: str, reason: str) -> Line:
    return Line(
        f"同意延期{amount}，办结时限延至{new_due}",
        (
            _to(unit_id, f"【延期批准】{c.brief()}：办结时限延至{new_due}"),
            _resident(c, f"办理时限延至{new_due}，原因：{reason}"),
        ),
    )


def _holder_unless(c: CaseContext, actor_unit: str | None, text: str) -> tuple[Message, ...]:
    """The holder told of what another (a supervisor) did to its case."""
    holder = c.s.holder
    return (_to(holder, text),) if holder and holder != actor_unit else ()


def suspended(c: CaseContext, reason: str, actor_unit: str | None) -> Line:
    return Line(
        f"挂账：{reason}",
        (
            _to(SUPERVISOR, f"【挂账】{c.brief()}：{reason}"),
            *_holder_unless(c, actor_unit, f"【挂账】{c.brief()}：{reason}，时限暂停计算"),
            _resident(c, f"需阶段性办理，已挂账：{reason}"),
        ),
    )


def resumed(c: CaseContext, paused: timedelta, reason: str, actor_unit: str | None, reply: Deadline | None) -> Line:
    due = f"，办结时限{c.local(reply.due_at)}" if reply is not None and reply.open else ""
    return Line(
        f"恢复办理（挂账{duration(paused)}）：{reason}",
        (
            _to(SUPERVISOR, f"【恢复办理】{c.brief()}：{reason}"),
            *_holder_unless(c, actor_unit, f"【恢复办理】{c.brief()}：{reason}{due}"),
            _resident(c, f"已恢复办理：{reason}"),
        ),
    )


# ------------------------------------------------------------------------------------------ 办结, 评价, 重办, 销号


def replied(c: CaseContext, result: str) -> Line:
    return Line(f"{c.name(c.s.holder)}办结：{result}", (_resident(c, "已办结，请对办理结果进行评价"),))


def rated(level: str, solved: bool) -> Line:
    return Line(f"群众评价：{RATING_LABEL[level]}，{'已解决' if solved else '未解决'}")


def rated_closure(level: str) -> str:
    return f"群众评价{RATING_LABEL[level]}，销号"


def reopened(c: CaseContext, n: int, unit_id: str, limit: Limit) -> Line:
    return Line(f"群众不满意，第{n}次重办，退回{c.name(unit_id)}，时限{limit}")


def reopen_cap_reached(c: CaseContext, cap: int, supervisor: str) -> Line:
    return Line(
        f"重办已达上限（{cap}次），转{c.name(supervisor)}处置",
        (_to(SUPERVISOR, f"【重办超限】{c.brief()}：请督办处置"),),
    )


def street_out_of_time(c: CaseContext, unit_id: str, supervisor: str) -> Line:
    return Line(
        f"{c.name(unit_id)}本级时限届满，未吹哨、未办结，转{c.name(supervisor)}督办改派",
        (_to(SUPERVISOR, f"【待督办改派】{c.brief()}：{c.name(unit_id)}本级时限届满，请改派、延期或销号"),),
    )


def extended_by_supervisor(c: CaseContext, unit_id: str, amount: Limit, reason: str, reply: Deadline | None) -> Line:
    if reply is None:
        until = ""
    elif reply.missed:  # a limit already missed is not moved: the miss stands
        until = f"，办结时限已于{c.local(reply.due_at)}届满"
    else:
        until = f"，办结时限延至{c.local(reply.due_at)}"
    return Line(
        f"督办延期{amount}，退回{c.name(unit_id)}办理{until}：{reason}",
        (_to(unit_id, f"【督办延期】{c.brief()}：再给{amount}{until}"),),
    )


def rating_reminder(c: CaseContext, due: datetime) -> Line:
    return Line(
        f"提醒群众评价（评价期限{c.local(due)}）",
        (_resident(c, f"已办结，请及时评价（提醒：{c.local(due)}前未评价的，按未评价销号）"),),
    )


# How the resident is told a case ended that nobody replied to (a rated or unrated case was handled).
_ENDED_UNHANDLED: dict[Outcome, str] = {
    Outcome.withdrawn: "已按您的要求撤回，不再办理",
    Outcome.merged: "为重复诉求，已并入反映同一问题的诉求一并办理",
    Outcome.rejected: "未予受理",
    Outcome.closed_by_supervisor: "已销号",
}


def closed(c: CaseContext, outcome: Outcome, text: str, *, actor_unit: str | None, tell_resident: bool) -> Line:
    """销号. The resident is told how the case ended; a case struck off before a reply (撤回, 合并, 不予受理,
    督办销号) also tells the units still working on it, other than the actor's own, that they may stop: its
    holder, its assisting units, the approver of a 退单 or 延期 it asked, and the whistler and departments of a
    whistle it takes down."""
    ended = _ENDED_UNHANDLED.get(outcome)
    told: list[Message] = []
    if tell_resident:
        told.append(_resident(c, f"{ended}（{text}）" if ended else f"已办理完毕（{text}），感谢您的监督"))
    if ended is not None:
        s = c.s
        asked = [p.approver for p in (s.pending_return, s.pending_extension) if p is not None]
        units = [s.holder, *(s.routing.assisting if s.routing else ()), *asked]
        for w in s.whistles:
            if w.active:
                units += [w.whistler, *w.departments]
        skip = {None, actor_unit}
        for u in dict.fromkeys(units):
            if u not in skip:
                told.append(_to(u, f"【销号】{c.brief()}：{text}，无需继续办理"))
    return Line(text, tuple(told))


# ------------------------------------------------------------------------------------------ 撤回, 合并, 不予受理


def withdrawn(reason: str) -> Line:
    return Line(f"诉求人撤回：{reason}")


def merged(into: str, reason: str) -> Line:
    return Line(f"合并至{into}：{reason}")


def merged_closure(into: str) -> str:
    return f"重复诉求，并入{into}，销号"


def merged_in(c: CaseContext, duplicate: str, reason: str) -> Line:
    holder = c.s.holder
    told = (_to(holder, f"【合并】{c.brief()}：重复诉求{duplicate}已并入"),) if holder else ()
    return Line(f"重复诉求{duplicate}并入本件：{reason}", told)


def rejected(c: CaseContext, reason: str) -> Line:
    return Line(f"不予受理：{reason}", (_resident(c, f"不属于受理范围：{reason}"),))


# ------------------------------------------------------------------------------------------ 催办, 督办 by hand


def urged_by_hand(c: CaseContext, note: str) -> Line:
    return Line(f"督办人员催办{c.name(c.s.holder)}：{note}", (_to(c.holder, f"【催办】{c.brief()}：{note}"),))


def supervised_by_hand(c: CaseContext, note: str) -> Line:
    return Line(f"督办{c.name(c.s.holder)}：{note}", (_to(c.holder, f"【督办】{c.brief()}：{note}"),))
