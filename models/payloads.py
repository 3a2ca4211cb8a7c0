"""What an event says beyond its line of text: one typed payload per kind of event.

`CaseEvent.data` is one of these (or None). Events recorded before payloads were typed carried a flat
`dict[str, str]` (comma lists, "true", "5/5/4"); `from_legacy` reads those, so older histories, whistle notes
and read-model rows come back typed as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.policy import Urgency, WhistleKind


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Intake(Payload):
    type: Literal["intake"] = "intake"
    category: str
    urgency: Urgency
    policy: str = Field(description="the policy version the case snapshotted")


class Dispatch(Payload):
    """派单 of a new case: the rule that chose its lead unit, the units that assist, its whole-case limit."""

    type: Literal["dispatch"] = "dispatch"
    rule: str
    assisting: list[str] = Field(default_factory=list)
    reply_due: datetime | None = None


class Moved(Payload):
    """The case went to another unit: 上报, 自动上报, 退单通过 (to the unit the decision names), 改派."""

    type: Literal["moved"] = "moved"
    to: str
    from_unit: str | None = None


class Whistled(Payload):
    type: Literal["whistle"] = "whistle"
    n: int
    kind: WhistleKind
    departments: list[str]
    report_due: datetime | None = None
    contact_due: datetime | None = None
    finish_due: datetime | None = None


class WhistleStep(Payload):
    """Something one of the case's whistles reports: 报到, 对接, 撤离, its deadlines' points, its end."""

    type: Literal["whistle_step"] = "whistle_step"
    whistle: int


class DepartmentRating(Payload):
    """双考核: the whistler's 1–5 ratings of a department it summoned."""

    department: str
    speed: int = Field(ge=1, le=5)
    cooperation: int = Field(ge=1, le=5)
    result: int = Field(ge=1, le=5)


class DepartmentsRated(Payload):
    type: Literal["departments_rated"] = "departments_rated"
    whistle: int
    ratings: list[DepartmentRating]


class Replied(Payload):
    type: Literal["reply"] = "reply"
    contacted_reporter: bool


class Rated(Payload):
    """A rating of the reply, or (level "unrated") the window passing without one."""

    type: Literal["rate"] = "rate"
    level: str
    solved: bool | None = None
    replied_by: str | None = None


class Reopened(Payload):
    type: Literal["reopen"] = "reopen"
    n: int


class MergedInto(Payload):
    type: Literal["merge"] = "merge"
    into: str


class MergedFrom(Payload):
    type: Literal["merged_in"] = "merged_in"
    duplicate: str


class Closed(Payload):
    type: Literal["close"] = "close"
    outcome: str


EventData = Annotated[
    Intake
    | Dispatch
    | Moved
    | Whistled
    | WhistleStep
    | DepartmentsRated
    | Replied
    | Rated
    | Reopened
    | MergedInto
    | MergedFrom
    | Closed,
    Field(discriminator="type"),
]


def _listed(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


def _flag(value: str) -> bool:
    return value == "true"


def from_legacy(kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """A payload of an event recorded before payloads were typed (a flat dict of strings), in today's shape."""
    if not data or "type" in data:
        return data or None
    d = {k: str(v) for k, v in data.items()}
    if "whistle" in d and kind == "rate_departments":
        ratings: list[dict[str, Any]] = []
        for dept, value in d.items():
            parts = value.split("/")
            if dept != "whistle" and len(parts) == 3:
                scores = dict(zip(("speed", "cooperation", "result"), map(int, parts), strict=True))
                ratings.append({"department": dept, **scores})
        return {"type": "departments_rated", "whistle": int(d["whistle"]), "ratings": ratings}
    if "whistle" in d:
        return {"type": "whistle_step", "whistle": int(d["whistle"])}
    match kind:
        case "intake":
            return {"type": "intake", **d}
        case "dispatch":
            return {"type": "dispatch", **d, "assisting": _listed(d.get("assisting", ""))}
        case "return_approved" | "escalate" | "auto_escalate":
            return {"type": "moved", "to": d["to"]}
        case "redispatch":
            return {"type": "moved", "to": d["to"], "from_unit": d.get("from") or None}
        case "whistle":
            return {"type": "whistle", **d, "departments": _listed(d.get("departments", ""))}
        case "reply":
            return {"type": "reply", "contacted_reporter": _flag(d.get("contacted_reporter", "true"))}
        case "rate":
            solved = _flag(d["solved"]) if "solved" in d else None
            return {"type": "rate", "level": d["level"], "solved": solved, "replied_by": d.get("replied_by") or None}
        case "reopen":
            return {"type": "reopen", "n": int(d["n"])}
        case "merge":
            return {"type": "merge", "into": d["into"]}
        case "merged_in":
            return {"type": "merged_in", "duplicate": d["from"]}
        case "close":
            return {"type": "close", "outcome": d["outcome"]}
    return None
