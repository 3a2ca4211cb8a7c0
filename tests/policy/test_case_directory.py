"""The part of the directory a case carries (`Directory.for_case`), and the chain a move brings it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bench.case_size import city_directory
from models.inputs import SYSTEM, RedispatchAction, ReturnDecision, WhistleAction, with_units
from models.policy import Directory, Tier, WhistleKind
from policy import load_policy
from policy.snapshot import snapshot_case
from tests.helpers import intake


def city(streets: int, communities: int, grids: int) -> Directory:
    return city_directory(streets, communities, grids, departments=2)


def test_a_case_carries_its_own_chains_only() -> None:
    full = city(streets=10, communities=20, grids=10)  # 2,000 grids
    carried = full.for_case(["s3c4g5", "dept-1"])
    assert {u.id for u in carried.units} == {"s3c4g5", "s3c4", "s3", "dept-1"}
    assert carried.supervisor == full.supervisor and carried.district == full.district


def test_what_a_case_carries_does_not_grow_with_the_city() -> None:
    small, large = city(2, 2, 2), city(2, 50, 40)  # 8 grids, 4,000 grids
    assert len(large.units) > 4000
    assert len(large.for_case(["s1c1g1"]).units) == len(small.for_case(["s1c1g1"]).units)


def test_chain_climbs_to_the_street_and_knows_nothing_of_strangers() -> None:
    full = city(2, 2, 2)
    assert [u.id for u in full.chain("s1c0g1")] == ["s1c0g1", "s1c0", "s1"]
    assert [u.id for u in full.chain("dept-0")] == ["dept-0"]
    assert full.chain("nowhere") == ()


def test_with_units_adds_only_what_was_missing_and_keeps_look_ups_right() -> None:
    full = city(2, 2, 2)
    carried = full.for_case(["s0c0g0"])
    assert carried.get("s1c1g1") is None
    grown = carried.with_units(full.chain("s1c1g1"))
    assert grown.get("s1c1g1") == full.get("s1c1g1") and grown.get("s1c1") == full.get("s1c1")
    assert len(grown.units) == len(carried.units) + 3  # the grid, its community and its street
    assert grown.with_units(full.chain("s1c1g1")) is grown


def test_a_move_carries_its_target_chain_from_the_directory_in_force() -> None:
    full = city(2, 2, 2)
    move = with_units(RedispatchAction(actor=SYSTEM, to_unit="s1c1g0", reason="改派"), full)
    assert [u.id for u in move.units] == ["s1c1g0", "s1c1", "s1"]
    refused = with_units(ReturnDecision(actor=SYSTEM, approve=False, reason="属本网格"), full)
    assert refused.units == ()


def test_a_whistle_carries_the_departments_it_summons() -> None:
    full = city(2, 2, 2)
    whistle = WhistleAction(actor=SYSTEM, kind=WhistleKind.ordinary, departments=["dept-1", "dept-0"], reason="吹哨")
    assert [u.id for u in with_units(whistle, full).units] == ["dept-1", "dept-0"]
    unknown = whistle.model_copy(update={"departments": ["dept-1", "nowhere"]})
    assert [u.id for u in with_units(unknown, full).units] == ["dept-1"]


def test_the_shipped_snapshot_leaves_other_grids_out() -> None:
    policy = load_policy()
    opened = snapshot_case(policy, intake("t-1", reported_at=datetime.now(UTC)), date.today())
    carried = {u.id for u in opened.policy.directory.units}
    grids = {u.id for u in policy.directory.units if u.tier is Tier.grid}
    assert carried & grids == {"grid-a1-1"}
    assert opened.routing.lead in carried
    departments = {u.id for u in policy.directory.units if u.tier is Tier.department}
    owner = opened.policy.category.owner_unit
    assert carried & departments == {opened.routing.lead, *opened.routing.assisting, owner} & departments
