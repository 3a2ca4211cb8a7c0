"""The deadline book both workflows keep: which 催办 / 超期 / 通报 point comes next, and which are due.

Pure and deterministic: the workflow passes `workflow.now()` in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models.timeline import Deadline, DeadlineKind, DeadlineRef, Plan


class Point(StrEnum):
    urge = "urge"
    miss = "miss"
    notice = "notice"


@dataclass(frozen=True)
class Due:
    deadline: Deadline
    point: Point


def _pending(d: Deadline) -> Iterable[tuple[datetime, Point]]:
    if not d.open:
        return
    if not d.urged and not d.missed:
        yield d.urge_at, Point.urge
    if not d.missed:
        yield d.due_at, Point.miss
    elif not d.noticed:
        yield d.notice_at, Point.notice


class DeadlineBook:
    def __init__(self, deadlines: list[Deadline]) -> None:
        self.items = deadlines  # shared with the state, so continue-as-new carries them

    def add(self, kind: DeadlineKind, unit_id: str, started_at: datetime, plan: Plan) -> Deadline:
        d = Deadline(
            id=len(self.items) + 1,
            kind=kind,
            unit_id=unit_id,
            started_at=started_at,
            due_at=plan.due_at,
            urge_at=plan.urge_at,
            notice_at=plan.notice_at,
        )
        self.items.append(d)
        return d

    def find(self, kind: DeadlineKind, unit_id: str | None = None) -> Deadline | None:
        return next(
            (d for d in self.items if d.open and d.kind is kind and unit_id in (None, d.unit_id)),
            None,
        )

    def close(
        self, now: datetime, *kinds: DeadlineKind, unit_id: str | None = None, cancel: bool = False
    ) -> list[Deadline]:
        """Close open deadlines; `cancel`: the case moved on, so they were neither met nor (if not yet) missed."""
        closed = []
        for d in self.items:
            if d.open and d.kind in kinds and unit_id in (None, d.unit_id):
                d.closed_at = now
                d.cancelled = cancel and not d.missed
                closed.append(d)
        return closed

    def next_point(self) -> datetime | None:
        return min((at for d in self.items for at, _ in _pending(d)), default=None)

    def due(self, now: datetime) -> list[Due]:
        """Points that have come, oldest first; marks them so each fires once."""
        fired = sorted(
            ((at, d.id, Due(d, point)) for d in self.items for at, point in _pending(d) if at <= now),
            key=lambda t: (t[0], t[1]),
        )
        for _, _, item in fired:
            d = item.deadline
            if item.point is Point.urge:
                d.urged = True
            elif item.point is Point.miss:
                d.missed = True
            else:
                d.noticed = True
        return [item for _, _, item in fired]

    def shift(self, by: timedelta) -> None:
        """挂账 stops the clocks: on resume every open deadline moves by the time spent suspended."""
        for d in self.items:
            if d.open:
                d.due_at += by
                d.urge_at += by
                d.notice_at += by


def ref(d: Deadline) -> DeadlineRef:
    return DeadlineRef(kind=d.kind, unit_id=d.unit_id, due_at=d.due_at, met=d.met)
