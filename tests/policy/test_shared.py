"""Equal policy values decoded for many cases are one object in the process (`models.policy.Shared`)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models import policy as policy_values
from models.case import CasePolicy
from models.intake import Location
from models.policy import Limit, LimitUnit, Unit, WhistleKind
from models.whistle import WhistleInput
from policy import load_policy
from policy.snapshot import snapshot_case
from tests.helpers import intake


def decoded(grid: str) -> CasePolicy:
    """A case's snapshot as the worker gets it: from the JSON of its start input."""
    case = intake("t-1", location=Location(grid_id=grid, address="某处"))
    snapshot = snapshot_case(load_policy(), case, date(2026, 12, 1)).policy
    return CasePolicy.model_validate_json(snapshot.model_dump_json())


def test_cases_in_different_grids_share_what_they_have_in_common() -> None:
    a, b = decoded("grid-a1-1"), decoded("grid-b1-2")
    assert a.directory is not b.directory  # each carries its own chain
    assert a.directory.supervisor is b.directory.supervisor
    assert a.directory.get("dept-enforcement") is b.directory.get("dept-enforcement")
    assert a.directory.get("street-a") is not None and b.directory.get("street-a") is None
    assert a.limits is b.limits  # a dict among its fields: shared by its JSON
    assert a.workdays is b.workdays and a.supervision is b.supervision
    assert a.whistle == b.whistle and all(a.whistle[k] is b.whistle[k] for k in a.whistle)


def test_a_case_carries_its_working_days_and_not_the_calendar_they_came_from() -> None:
    a = decoded("grid-a1-1")
    assert a.workdays is not None and a.calendar is None
    # A case opened before cases carried their working days keeps its calendar, and plans with it.
    older = {**a.model_dump(mode="json"), "workdays": None, "calendar": load_policy().calendar.model_dump(mode="json")}
    assert CasePolicy.model_validate(older).calendar == load_policy().calendar


def test_cases_in_one_grid_share_their_directory_and_its_look_up() -> None:
    a, b = decoded("grid-a1-1"), decoded("grid-a1-1")
    assert a is not b and a.directory is b.directory
    assert a.directory.chain("grid-a1-1") == b.directory.chain("grid-a1-1")


def test_a_shared_value_is_as_decoded_and_cannot_be_changed() -> None:
    a = decoded("grid-a1-1")
    again = CasePolicy.model_validate_json(a.model_dump_json())
    assert again == a and again.model_dump_json() == a.model_dump_json()
    with pytest.raises(ValidationError):
        a.directory.units[0].name = "改名"  # type: ignore[misc]


def test_a_whistle_shares_its_limits_and_working_days_with_its_case() -> None:
    case = decoded("grid-a1-1")
    w = WhistleInput.model_validate_json(
        WhistleInput(
            case_id="c",
            n=1,
            kind=WhistleKind.hard,
            whistler="street-a",
            departments=["dept-enforcement"],
            limits=case.whistle[WhistleKind.hard],
            supervision=case.supervision,
            workdays=case.workdays,
        ).model_dump_json()
    )
    assert w.limits is case.whistle[WhistleKind.hard] and w.workdays is case.workdays


def test_sharing_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_values, "SHARED_MAX", len(policy_values._shared))
    held = len(policy_values._shared)
    unit = Unit.model_validate({"id": "grid-new", "name": "新网格", "tier": "grid", "parent": "comm-a1"})
    limit = Limit(amount=17.5, unit=LimitUnit.hours)
    directory = decoded("grid-a1-1").directory.with_units((unit,))
    assert directory.get("grid-new") == unit and limit.amount == 17.5
    assert len(policy_values._shared) == held  # past the bound a new value is used, not kept
