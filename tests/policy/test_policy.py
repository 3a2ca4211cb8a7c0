"""The shipped policy files, and the errors a broken copy gives."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from models.policy import Limit, LimitUnit, OwnerRule, Tier, Urgency, WhistleKind
from policy import FILES, POLICY_DIR, PolicyError, load_policy, policy_fingerprint

# DOMAIN.md "Categories": id -> (Chinese name, urgency)
DOMAIN_CATEGORIES = {
    "exposed_rubbish": ("暴露垃圾", Urgency.general),
    "standing_water": ("路面积水", Urgency.general),
    "street_lights_out": ("路灯不亮", Urgency.general),
    "missing_manhole_cover": ("井盖缺失", Urgency.emergency),
    "lift_entrapment": ("电梯困人", Urgency.emergency),
    "water_outage": ("停水", Urgency.time_sensitive),
    "power_outage": ("停电", Urgency.time_sensitive),
    "gas_outage": ("燃气停供", Urgency.time_sensitive),
    "heating_outage": ("供暖停供", Urgency.time_sensitive),
    "illegal_construction": ("违法建设", Urgency.general),
    "street_vending": ("占道经营", Urgency.general),
    "neighbourhood_noise": ("社会生活噪声", Urgency.general),
    "construction_noise": ("施工噪声", Urgency.general),
    "property_dispute": ("物业纠纷", Urgency.general),
    "illegal_group_rental": ("群租", Urgency.complex),
    "parking": ("停车", Urgency.general),
    "traffic_congestion": ("交通拥堵", Urgency.general),
    "unpaid_wages": ("拖欠工资", Urgency.general),
    "lift_retrofit": ("老旧小区加装电梯", Urgency.complex),
}


def lim(amount: float, unit: str) -> Limit:
    return Limit(amount=amount, unit=LimitUnit(unit))


def test_shipped_policy_loads_with_fingerprinted_version() -> None:
    policy = load_policy()
    assert re.fullmatch(r".+\+[0-9a-f]{8}", policy.version)
    assert policy.version.endswith("+" + policy_fingerprint())
    assert load_policy() is policy
    assert load_policy(POLICY_DIR / ".." / POLICY_DIR.name) is policy


def test_shipped_defaults_match_domain() -> None:
    policy = load_policy()
    general = policy.limits[Urgency.general]
    assert (general.dispatch, general.sign, general.reply) == (
        lim(24, "hours"),
        lim(4, "working_hours"),
        lim(7, "working_days"),
    )
    assert policy.limits[Urgency.emergency].reply == lim(2, "hours")
    assert policy.limits[Urgency.complex].tier_slices[Tier.street] == lim(3, "working_days")
    assert policy.whistle[WhistleKind.hard].finish == lim(5, "working_days")
    assert policy.whistle[WhistleKind.emergency].report == lim(30, "minutes")
    assert policy.supervision.urge_fraction == 0.8
    assert policy.rating.reopen_cap == 2
    assert policy.calendar.timezone == "Asia/Shanghai"
    for urgency, limits in policy.limits.items():
        assert set(limits.tier_slices) == {Tier.grid, Tier.community, Tier.street}, urgency


def test_every_domain_category_exists() -> None:
    policy = load_policy()
    for category_id, (name, urgency) in DOMAIN_CATEGORIES.items():
        category = policy.category(category_id)
        assert category is not None, category_id
        assert (category.name, category.urgency) == (name, urgency)
    assert policy.category("lift_entrapment").reply_limit == lim(30, "minutes")  # type: ignore[union-attr]
    whistled = {c.id for c in policy.categories if c.whistle}
    assert {"illegal_construction", "illegal_group_rental", "lift_retrofit"} <= whistled
    assert {c.id for c in policy.categories if c.owner_rule is OwnerRule.fallback}
    assert len({c.id for c in policy.categories}) == len(policy.categories)


def test_directory_tree() -> None:
    directory = load_policy().directory
    units = {u.id: u for u in directory.all_units()}

    def parent(unit_id: str) -> str:
        p = units[unit_id].parent
        assert p is not None
        return p

    by_tier = {tier: [u for u in directory.units if u.tier is tier] for tier in Tier}
    assert len(by_tier[Tier.street]) >= 2
    assert len(by_tier[Tier.community]) >= 4
    assert len(by_tier[Tier.grid]) >= 8
    for grid in by_tier[Tier.grid]:
        community = units[parent(grid.id)]
        assert community.tier is Tier.community
        assert units[parent(community.id)].tier is Tier.street
        assert parent(community.id) != "district"
    for unit in by_tier[Tier.street] + by_tier[Tier.department]:
        assert unit.parent == directory.district.id
    assert directory.supervisor.tier is Tier.district
    # every department or utility the catalogue names is in the directory (the model checks it too)
    named = {u for c in load_policy().categories for u in (c.owner_unit, *c.assisting_units) if u}
    assert named <= {u.id for u in by_tier[Tier.department]}


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / "policy"
    target.mkdir()
    for file in FILES:
        shutil.copy(POLICY_DIR / file, target / file)
    text = (target / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {name} any more; update the test"
    (target / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "limits.toml",
            'sign = { amount = 4, unit = "working_hours" }',
            'sign = { amount = 4, unit = "fortnights" }',
            "policy/limits.toml: limits.general.sign.unit: Input should be",
        ),
        (
            "limits.toml",
            "urge_fraction = 0.8",
            "urge_fraction = 1.5",
            "policy/limits.toml: supervision.urge_fraction:",
        ),
        (
            "limits.toml",
            "[whistle.hard]",
            "[whistle.harder]",
            "policy/limits.toml: whistle.harder[key]:",
        ),
        (
            "categories.toml",
            'owner_unit = "dept-lighting"',
            'owner_unit = "dept-nowhere"',
            "policy/categories.toml: categories: street_lights_out names unknown unit dept-nowhere",
        ),
        (
            "categories.toml",
            'urgency = "complex"',
            'urgency = "urgent"',
            "policy/categories.toml: categories[14].urgency:",
        ),
        (
            "categories.toml",
            'id = "other"',
            'id = "exposed_rubbish"',
            "policy/categories.toml: categories: duplicate ids ['exposed_rubbish']",
        ),
        (
            "directory.toml",
            'parent = "comm-b2" }',
            'parent = "comm-b9" }',
            "policy/directory.toml: units: grid-b2-1 names unknown parent comm-b9",
        ),
        (
            "directory.toml",
            'tier = "street"',
            'tier = "county"',
            "policy/directory.toml: units[0].tier:",
        ),
        (
            "calendar.toml",
            "[[09:00:00, 12:00:00]",
            "[[12:00:00, 09:00:00]",
            "policy/calendar.toml: office_hours: periods: must be ordered",
        ),
        (
            "calendar.toml",
            'timezone = "Asia/Shanghai"',
            'timezone = "Asia/Nowhere"',
            "policy/calendar.toml: timezone: unknown time zone",
        ),
        (
            "calendar.toml",
            'timezone = "Asia/Shanghai"',
            'timezone = "Asia"',
            "policy/calendar.toml: timezone: unknown time zone",
        ),
        ("calendar.toml", "working_days = true", "working_days = yes", "policy/calendar.toml: Invalid value"),
    ],
)
def test_broken_copy_names_file_and_field(tmp_path: Path, name: str, old: str, new: str, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(broken_copy(tmp_path, name, old, new))
    assert expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    target = broken_copy(tmp_path, "limits.toml", "version", "version")
    (target / "directory.toml").unlink()
    with pytest.raises(PolicyError, match="policy/directory.toml: cannot read"):
        load_policy(target)


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


def test_fingerprint_follows_file_bytes(tmp_path: Path) -> None:
    target = broken_copy(tmp_path, "categories.toml", 'name = "群租"', 'name = "群租房"')
    edited = load_policy(target)
    assert edited.version.split("+")[0] == load_policy().version.split("+")[0]
    assert edited.version != load_policy().version


def test_no_limit_is_longer_than_a_year() -> None:
    from pydantic import ValidationError

    from models.errors import input_problem
    from models.policy import Limit, LimitUnit

    assert Limit(amount=250, unit=LimitUnit.working_days).amount == 250
    assert Limit(amount=366, unit=LimitUnit.days).amount == 366
    for amount, unit in ((251, LimitUnit.working_days), (367, LimitUnit.days), (1e300, LimitUnit.minutes)):
        with pytest.raises(ValidationError) as err:
            Limit(amount=amount, unit=unit)
        assert "不能超过一年" in input_problem(err.value.errors()[0]), err.value
