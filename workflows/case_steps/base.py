"""What a step is, and the checks several steps share.

A step is the part of one action that is its own: `guard` (may the case take it now, beyond the registry's
states and actors), `check` (is the input right) and `apply` (what it does). Each is a plain function over the
case context, so a step reads top to bottom in one module and the workflow class stays a list of updates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.errors import ErrorCode
from models.inputs import Action, Actor, NamesUnits
from models.policy import Directory, Tier
from workflows.case_context import CaseContext
from workflows.common import reject

A = TypeVar("A", bound=Action)


def _always(c: CaseContext, actor: Actor) -> None:
    """No condition beyond the registry's."""


def _anything(c: CaseContext, a: Any) -> None:
    """No input to check beyond its model."""


@dataclass(frozen=True)
class Step(Generic[A]):
    apply: Callable[[CaseContext, A], Awaitable[None]]
    guard: Callable[[CaseContext, Actor], None] = _always
    check: Callable[[CaseContext, A], None] = _anything


def no_whistle(c: CaseContext, what: str) -> None:
    if c.s.active_whistle is not None:
        raise reject(ErrorCode.whistle_active, f"吹哨进行中，不能{what}")


def works_cases(directory: Directory, unit_id: str) -> None:
    """改派 and 退单 send a case to a unit that works it: a grid, community, street or department. The district and
    the supervisor oversee; no one there signs or replies, so a case sent there could never move again."""
    unit = directory.get(unit_id)
    if unit is not None and unit.tier is Tier.district:
        raise reject(ErrorCode.invalid_input, f"{unit.name}不承办诉求，不能改派至此")


def known_units(c: CaseContext, a: NamesUnits) -> Directory:
    """The units an action names: ones the case carries, or ones whose chains the action brings."""
    directory = c.brought(a.units)
    for unit_id in a.named_units():
        if directory.get(unit_id) is None:
            raise reject(ErrorCode.unknown_unit, f"未知单位：{unit_id}")
    return directory
