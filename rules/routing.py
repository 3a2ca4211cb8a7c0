"""派单 rules over the directory: pure functions, safe inside workflow code."""

from __future__ import annotations

from models.case import Routing
from models.policy import Category, Directory, OwnerRule, Tier, Unit


class RoutingError(ValueError):
    pass


def locate(directory: Directory, grid_id: str) -> tuple[Unit, Unit, Unit]:
    """A grid resolves to its community and street."""
    grid = directory.get(grid_id)
    if grid is None or grid.tier is not Tier.grid:
        raise RoutingError(f"unknown grid {grid_id}")
    community = directory.get(grid.parent or "")
    street = directory.get(community.parent or "") if community else None
    if community is None or street is None:
        raise RoutingError(f"grid {grid_id} has no community and street above it")
    return grid, community, street


def lead_tier(category: Category) -> tuple[Tier, str]:
    """The tier a category's cases go to first, and its rule: 先属主后属地 for assets (their owner), the street as
    兜底 when ownership is unclear, 先属地后属主 for incidents (the location's grid)."""
    if category.owner_rule is OwnerRule.owner and category.owner_unit:
        return Tier.department, "属主"
    if category.owner_rule is OwnerRule.fallback:
        return Tier.street, "兜底"
    return Tier.grid, "属地"


def route(category: Category, grid_id: str, directory: Directory) -> Routing:
    """The lead unit of a case at this grid (`lead_tier`), and its assisting units: an incident's owner assists."""
    grid, _, street = locate(directory, grid_id)
    assisting = list(category.assisting_units)
    tier, rule = lead_tier(category)
    if tier is Tier.department:
        lead = category.owner_unit or ""
    elif tier is Tier.street:
        lead = street.id
    else:
        lead = grid.id
        if category.owner_unit and category.owner_unit not in assisting:
            assisting.append(category.owner_unit)
    return Routing(lead=lead, tier=tier, assisting=assisting, rule=rule)


def next_tier(directory: Directory, unit_id: str) -> Unit | None:
    """上报 target: grid → community → street; nothing above a street or a department."""
    unit = directory.get(unit_id)
    if unit is None or unit.tier not in (Tier.grid, Tier.community):
        return None
    return directory.get(unit.parent or "")


def approver(directory: Directory, unit_id: str) -> str:
    """The tier above approves 退单 and 延期; above a street or a department it is the supervisor."""
    above = next_tier(directory, unit_id)
    return above.id if above else directory.supervisor.id
