"""Event payloads are typed per kind; events recorded before (flat dicts of strings) read back typed too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from models import payloads as pl
from models.timeline import CaseEvent, EventKind

AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def event(kind: EventKind, data: Any) -> CaseEvent:
    return CaseEvent.model_validate({"seq": 1, "at": AT, "kind": kind, "actor": "system", "text": "", "data": data})


@pytest.mark.parametrize(
    ("kind", "legacy", "typed"),
    [
        (
            EventKind.intake,
            {"category": "x", "urgency": "general", "policy": "v1"},
            pl.Intake(category="x", urgency="general", policy="v1"),
        ),
        (
            EventKind.dispatch,
            {"rule": "属地", "assisting": "a,b", "reply_due": AT.isoformat()},
            pl.Dispatch(rule="属地", assisting=["a", "b"], reply_due=AT),
        ),
        (EventKind.dispatch, {"rule": "兜底", "assisting": ""}, pl.Dispatch(rule="兜底")),
        (EventKind.redispatch, {"from": "g", "to": "d"}, pl.Moved(to="d", from_unit="g")),
        (EventKind.auto_escalate, {"to": "c"}, pl.Moved(to="c")),
        (
            EventKind.whistle,
            {"n": "1", "kind": "hard", "departments": "d1,d2"},
            pl.Whistled(n=1, kind="hard", departments=["d1", "d2"]),
        ),
        (EventKind.report, {"whistle": "2"}, pl.WhistleStep(whistle=2)),
        (
            EventKind.rate_departments,
            {"whistle": "1", "d1": "5/4/3"},
            pl.DepartmentsRated(
                whistle=1, ratings=[pl.DepartmentRating(department="d1", speed=5, cooperation=4, result=3)]
            ),
        ),
        (EventKind.reply, {"contacted_reporter": "false"}, pl.Replied(contacted_reporter=False)),
        (
            EventKind.rate,
            {"level": "satisfied", "solved": "true", "replied_by": "g"},
            pl.Rated(level="satisfied", solved=True, replied_by="g"),
        ),
        (EventKind.rate, {"level": "unrated", "replied_by": ""}, pl.Rated(level="unrated")),
        (EventKind.reopen, {"n": "2"}, pl.Reopened(n=2)),
        (EventKind.merged_in, {"from": "case-x"}, pl.MergedFrom(duplicate="case-x")),
        (EventKind.close, {"outcome": "rated"}, pl.Closed(outcome="rated")),
        (EventKind.sign, {}, None),
    ],
)
def test_a_legacy_payload_reads_back_typed(kind: EventKind, legacy: dict[str, str], typed: Any) -> None:
    assert event(kind, legacy).data == typed
    if typed is not None:
        # and the typed form, as the read model stores it, reads back the same
        assert event(kind, typed.model_dump(mode="json")).data == typed
