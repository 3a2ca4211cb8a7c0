"""Every action a person may take on a case or a whistle, in one registry.

One row per action: its name (the API path `POST /cases/{id}/<name>` and the command line's `act <name>`),
the workflow update it is (that name is recorded in every history: never rename one), its input model, a
summary for people, who may take it and in which states of the case. The workflows bind their updates from
these rows and check them (`workflows/acting.py`, `workflows/whistle.py`), the API builds its routes from them
(`api/routes/actions.py`) and `starter.py` its `act` command: one source for all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from models.case import Status
from models.inputs import (
    Action,
    CloseAction,
    ContactAction,
    EscalateAction,
    ExtendAction,
    ExtensionDecision,
    ExtensionRequest,
    MergeAction,
    RateAction,
    RateDepartmentsAction,
    RedispatchAction,
    RejectAction,
    ReleaseAction,
    ReplyAction,
    ReportAction,
    ResumeAction,
    ReturnAction,
    ReturnDecision,
    SignAction,
    SuperviseAction,
    SuspendAction,
    UrgeAction,
    WhistleAction,
    WithdrawAction,
)

A = TypeVar("A", bound=Action)


class ActionName(StrEnum):
    """What the API and the command line call an action."""

    sign = "sign"
    return_ = "return"
    decide_return = "decide-return"
    redispatch = "redispatch"
    escalate = "escalate"
    whistle = "whistle"
    request_extension = "request-extension"
    decide_extension = "decide-extension"
    suspend = "suspend"
    resume = "resume"
    reply = "reply"
    rate = "rate"
    withdraw = "withdraw"
    merge = "merge"
    reject = "reject"
    urge = "urge"
    supervise = "supervise"
    extend = "extend"
    close = "close"
    # on a whistle (吹哨)
    report = "report"
    contact = "contact"
    release = "release"
    rate_departments = "rate-departments"


class Who(StrEnum):
    """Who may take an action; the workflow resolves each against the case."""

    holder = "holder"
    """a member of the unit that holds the case"""
    holder_or_supervisor = "holder_or_supervisor"
    return_approver = "return_approver"
    """the unit a pending 退单 waits for (the tier above), or a supervisor"""
    extension_approver = "extension_approver"
    """the unit a pending 延期 waits for, or a supervisor"""
    supervisor = "supervisor"
    channel = "channel"
    """the channel that took the case in, on the resident's behalf"""
    summoned = "summoned"
    """a department the whistle summoned"""
    whistler = "whistler"
    """the unit that blew the whistle"""


LIVE = frozenset(Status) - {Status.intake, Status.closed}
HELD = frozenset({Status.dispatched, Status.handling})
OPEN = frozenset(
    {
        Status.dispatched,
        Status.handling,
        Status.return_pending,
        Status.suspended,
        Status.supervisor,
        Status.to_redispatch,
    }
)


@dataclass(frozen=True)
class ActionSpec(Generic[A]):
    name: ActionName
    update: str
    model: type[A]
    summary: str
    who: Who
    states: frozenset[Status] = LIVE
    """the case states the action is taken in (a whistle's actions: the whistle's own checks decide)"""
    verb: str = ""
    """what the action is called in a refusal: 只有……可以<verb>"""

    @property
    def whistle(self) -> bool:
        return self.who in (Who.summoned, Who.whistler)


SIGN = ActionSpec(ActionName.sign, "sign", SignAction, "签收", Who.holder, frozenset({Status.dispatched}), "签收")
RETURN = ActionSpec(ActionName.return_, "return_case", ReturnAction, "退单（说明理由）", Who.holder, HELD, "退单")
DECIDE_RETURN = ActionSpec(
    ActionName.decide_return,
    "decide_return",
    ReturnDecision,
    "审核退单：同意并改派，或驳回",
    Who.return_approver,
    frozenset({Status.return_pending}),
    "审核退单",
)
REDISPATCH = ActionSpec(
    ActionName.redispatch,
    "redispatch",
    RedispatchAction,
    "改派（督办）",
    Who.supervisor,
    frozenset({Status.dispatched, Status.handling, Status.return_pending, Status.supervisor, Status.to_redispatch}),
    "改派",
)
ESCALATE = ActionSpec(ActionName.escalate, "escalate", EscalateAction, "上报上一级", Who.holder, HELD, "上报")
WHISTLE = ActionSpec(
    ActionName.whistle,
    "whistle",
    WhistleAction,
    "吹哨：召集职能部门",
    Who.holder,
    frozenset({Status.handling}),
    "吹哨",
)
REQUEST_EXTENSION = ActionSpec(
    ActionName.request_extension, "request_extension", ExtensionRequest, "申请延期", Who.holder, HELD, "申请延期"
)
DECIDE_EXTENSION = ActionSpec(
    ActionName.decide_extension,
    "decide_extension",
    ExtensionDecision,
    "审批延期",
    Who.extension_approver,
    LIVE,
    "审批延期",
)
SUSPEND = ActionSpec(ActionName.suspend, "suspend", SuspendAction, "挂账", Who.holder_or_supervisor, HELD, "挂账")
RESUME = ActionSpec(
    ActionName.resume,
    "resume",
    ResumeAction,
    "恢复办理",
    Who.holder_or_supervisor,
    frozenset({Status.suspended}),
    "恢复办理",
)
REPLY = ActionSpec(ActionName.reply, "reply", ReplyAction, "办结", Who.holder, frozenset({Status.handling}), "办结")
RATE = ActionSpec(
    ActionName.rate,
    "rate",
    RateAction,
    "回访评价（由受理渠道代群众提交）",
    Who.channel,
    frozenset({Status.replied}),
    "评价",
)
WITHDRAW = ActionSpec(
    ActionName.withdraw, "withdraw", WithdrawAction, "撤回（由受理渠道代群众提交）", Who.channel, OPEN, "撤回"
)
MERGE = ActionSpec(ActionName.merge, "merge", MergeAction, "合并重复诉求（督办）", Who.supervisor, OPEN, "合并")
REJECT = ActionSpec(
    ActionName.reject,
    "reject_case",
    RejectAction,
    "不予受理（督办）",
    Who.supervisor,
    frozenset({Status.dispatched, Status.return_pending}),
    "不予受理",
)
OVERSIGHT = frozenset({Status.dispatched, Status.handling, Status.return_pending, Status.suspended})
URGE = ActionSpec(ActionName.urge, "urge", UrgeAction, "催办（督办）", Who.supervisor, OVERSIGHT, "催办/督办")
SUPERVISE = ActionSpec(
    ActionName.supervise, "supervise", SuperviseAction, "督办", Who.supervisor, OVERSIGHT, "催办/督办"
)
EXTEND = ActionSpec(
    ActionName.extend,
    "extend",
    ExtendAction,
    "督办延期：街道本级时限届满后，给予更多时间并退回该单位",
    Who.supervisor,
    frozenset({Status.to_redispatch}),
    "督办延期",
)
CLOSE = ActionSpec(
    ActionName.close,
    "close",
    CloseAction,
    "督办处置后销号",
    Who.supervisor,
    frozenset({Status.supervisor, Status.to_redispatch}),
    "督办销号",
)

REPORT = ActionSpec(ActionName.report, "report", ReportAction, "报到", Who.summoned, verb="报到")
CONTACT = ActionSpec(ActionName.contact, "contact", ContactAction, "与吹哨单位对接", Who.summoned, verb="对接")
RELEASE = ActionSpec(
    ActionName.release,
    "release",
    ReleaseAction,
    "确认部门任务完成、准予撤离（吹哨单位）",
    Who.whistler,
    verb="确认撤离",
)
RATE_DEPARTMENTS = ActionSpec(
    ActionName.rate_departments,
    "rate",
    RateDepartmentsAction,
    "评价报到部门（吹哨单位）",
    Who.whistler,
    verb="评价报到部门",
)

CASE_ACTIONS: tuple[ActionSpec[Action], ...] = (
    SIGN,
    RETURN,
    DECIDE_RETURN,
    REDISPATCH,
    ESCALATE,
    WHISTLE,
    REQUEST_EXTENSION,
    DECIDE_EXTENSION,
    SUSPEND,
    RESUME,
    REPLY,
    RATE,
    WITHDRAW,
    MERGE,
    REJECT,
    URGE,
    SUPERVISE,
    EXTEND,
    CLOSE,
)  # type: ignore[assignment]
WHISTLE_ACTIONS: tuple[ActionSpec[Action], ...] = (REPORT, CONTACT, RELEASE, RATE_DEPARTMENTS)  # type: ignore[assignment]
BY_NAME: dict[ActionName, ActionSpec[Action]] = {s.name: s for s in (*CASE_ACTIONS, *WHISTLE_ACTIONS)}
