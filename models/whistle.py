"""吹哨: what a whistle is given, keeps, shows and returns, and what its case keeps of it."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, Field

from models.base import Model
from models.payloads import DepartmentRating
from models.policy import (
    CalendarPolicy,
    Shared,
    Supervision,
    WhistleKind,
    WhistleLimits,
    WorkingDays,
)
from models.timeline import Deadline, Plan

WHISTLE_KIND_LABEL: dict[WhistleKind, str] = {
    WhistleKind.ordinary: "工作推进哨",
    WhistleKind.hard: "攻坚哨",
    WhistleKind.emergency: "应急哨",
}


def whistle_workflow_id(case_id: str, n: int) -> str:
    """The workflow id of the case's n-th whistle (吹哨), a child of the case's workflow."""
    return f"{case_id}/whistle/{n}"


class WhistleSummary(Model):
    n: int
    workflow_id: str
    kind: WhistleKind
    whistler: str
    departments: list[str]
    active: bool = True


class WhistleInput(Model):
    case_id: str
    n: int
    kind: WhistleKind
    whistler: str
    departments: list[str]
    names: dict[str, str] = Field(default_factory=dict, description="unit id → name, for the timeline")
    limits: Shared[WhistleLimits]
    calendar: Shared[CalendarPolicy] | None = None
    """As its case's (`CasePolicy.calendar`): only a whistle without `workdays` plans with it."""
    supervision: Shared[Supervision]
    workdays: Shared[WorkingDays] | None = None
    planned: list[Plan] | None = Field(
        default=None, description="report, contact and finish as the case planned them when it whistled (rule set 2)"
    )
    planned_at: datetime | None = None
    notes_per_task: bool = Field(
        default=False,
        description="tells its case once per workflow task, every line in one `whistle_notes` signal (set by "
        "the cases that whistle since it exists; a whistle started before tells each line alone)",
    )


class DepartmentState(Model):
    unit_id: str
    checked_in_at: datetime | None = Field(
        default=None,
        description="报到: when the department reported for the whistle",
        validation_alias=AliasChoices("checked_in_at", "reported_at"),  # whistles recorded before the rename
    )
    contacted_at: datetime | None = None
    released_at: datetime | None = None
    late_report: bool = False
    rating: DepartmentRating | None = None


class WhistleState(Model):
    """Everything a whistle knows; one object, as a case has `CaseState`."""

    departments: dict[str, DepartmentState]
    deadlines: list[Deadline] = Field(default_factory=list)
    ready: bool = Field(default=False, description="its deadlines are planned; departments may act")
    rated: bool = Field(default=False, description="the whistler has rated every department: the whistle is over")


class WhistleView(Model):
    case_id: str
    n: int
    kind: WhistleKind
    whistler: str
    departments: list[DepartmentState]
    deadlines: list[Deadline]
    done: bool


class WhistleResult(Model):
    n: int
    departments: list[DepartmentState]
