"""Who acts, and what they ask: the actor, and one input model per action (the registry of actions is
`models/actions.py`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import Field, field_validator

from models.base import CaseId, Ident, Model, Reason, Text, storable
from models.payloads import DepartmentRating
from models.policy import Directory, Limit, Unit, WhistleKind


class Role(StrEnum):
    channel = "channel"
    unit = "unit"
    supervisor = "supervisor"
    system = "system"


class Actor(Model):
    role: Role
    id: Ident = Field(description="the channel id, or the staff member's id")
    unit_id: Ident | None = Field(default=None, description="the unit a unit member or supervisor acts for")

    @field_validator("unit_id")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v or None

    def label(self) -> str:
        return f"{self.unit_id}/{self.id}" if self.unit_id else self.id


SYSTEM = Actor(role=Role.system, id="engine")


class Action(Model):
    actor: Actor
    request_id: Ident | None = Field(default=None, description="a repeated request id is refused as 重复提交")


ActionT = TypeVar("ActionT", bound=Action)


class SignAction(Action):
    """签收."""


class ReturnAction(Action):
    """退单: not ours, with the reason."""

    reason: Reason


class NamesUnits(Action):
    """An action naming units the case's part of the directory may not hold; its sender brings their chains."""

    units: tuple[Unit, ...] = Field(
        default=(), description="the named units and those above them, from the directory in force; see `with_units`"
    )

    def named_units(self) -> tuple[str, ...]:
        raise NotImplementedError


class Move(NamesUnits):
    """An action that may send the case to another unit."""

    to_unit: Ident | None = None

    def named_units(self) -> tuple[str, ...]:
        return (self.to_unit,) if self.to_unit else ()


class ReturnDecision(Move):
    """The tier above approves a 退单 and names the unit to 改派 to, or refuses it."""

    approve: bool
    reason: Reason


class RedispatchAction(Move):
    """改派 by a supervisor."""

    to_unit: Ident
    reason: Reason


SERVER_FIELDS = ("actor", "request_id", "units")
"""Fields of an action that its sender fills, never the person asking: who acts, the request's key, the chain."""


def with_units(action: ActionT, directory: Directory) -> ActionT:
    """The action, carrying the chains of the units it names from `directory` (a case carries only its own
    chains; `Directory.for_case`). Every sender (API, console, command line) passes its action through here.
    """
    if not isinstance(action, NamesUnits):
        return action
    chains = {u.id: u for unit_id in action.named_units() for u in directory.chain(unit_id)}
    return action.model_copy(update={"units": tuple(chains.values())})


class EscalateAction(Action):
    """上报 to the next tier."""

    reason: Reason


class WhistleAction(NamesUnits):
    """吹哨: summon departments."""

    kind: WhistleKind
    departments: list[Ident] = Field(min_length=1, max_length=10)
    reason: Reason

    def named_units(self) -> tuple[str, ...]:
        return tuple(self.departments)


class ExtensionRequest(Action):
    """延期: more time, asked before the deadline."""

    amount: Limit
    reason: Reason


class ExtensionDecision(Action):
    approve: bool
    reason: Reason


class SuspendAction(Action):
    """挂账: seasonal or engineering work; the deadlines stop until resumed."""

    reason: Reason


class ResumeAction(Action):
    reason: Reason


class ReplyAction(Action):
    """办结: the result, after contacting the resident."""

    result: Text
    contacted_reporter: bool = True


RatingLevel = Literal["very_satisfied", "satisfied", "basically_satisfied", "unsatisfied", "very_unsatisfied"]
RATING_LABEL: dict[str, str] = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "unsatisfied": "不满意",
    "very_unsatisfied": "非常不满意",
}
RATING_SCORE: dict[str, int] = {
    "very_satisfied": 100,
    "satisfied": 80,
    "basically_satisfied": 60,
    "unsatisfied": 20,
    "very_unsatisfied": 0,
}
UNSATISFIED: frozenset[str] = frozenset({"unsatisfied", "very_unsatisfied"})


class RateAction(Action):
    """回访评价, given by the resident through the channel that took the case."""

    level: RatingLevel
    solved: bool
    comment: Annotated[str, storable(0, 1000)] = ""


class WithdrawAction(Action):
    """撤回 by the reporter."""

    reason: Reason


class MergeAction(Action):
    """合并 a duplicate into another case."""

    into_case_id: CaseId
    reason: Reason


class RejectAction(Action):
    """不予受理: out of scope."""

    reason: Reason


class UrgeAction(Action):
    """催办 by hand."""

    note: Reason


class SuperviseAction(Action):
    """督办 by hand."""

    note: Reason


class ExtendAction(Action):
    """督办延期: a supervisor gives the unit whose slice ran out more time, and the case goes back to it."""

    amount: Limit
    reason: Reason


class CloseAction(Action):
    """A supervisor strikes off a case that has used up its 重办."""

    reason: Reason


class ReportAction(Action):
    """报到: a summoned department arrives."""


class ContactAction(Action):
    """A summoned department has contacted the whistling unit and started work."""

    note: Reason


class ReleaseAction(Action):
    """事不完、人不撤: only the whistler releases a department."""

    department: Ident
    note: Reason


class RateDepartmentsAction(Action):
    """双考核: the whistler rates each department it summoned."""

    ratings: list[DepartmentRating] = Field(min_length=1)
