"""Policy as data: time limits, tier slices, the category catalogue, the calendar and the directory.

Every number a city may change lives in `policy/*.toml` and is validated here; a broken file fails at start
with pydantic's message naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


F = TypeVar("F", bound=Frozen)
SHARED_MAX = 100_000
"""Distinct values kept for sharing; past it a new value is simply not shared (a bound, not a cache)."""
_shared: dict[Any, Frozen] = {}


def _share(value: F) -> F:
    """The one object of this value in the process. A worker keeps thousands of cases in memory, each with its
    snapshot of the same limits, calendar and directory units; frozen, so sharing cannot carry a change from one
    case to another. Equal values behave alike, so a replay does whatever object it is given."""
    try:
        key: Any = value
        known = _shared.get(key)
    except TypeError:  # a dict among its fields: keyed by its JSON instead
        key = (type(value), value.model_dump_json())
        known = _shared.get(key)
    if known is not None:
        return known  # type: ignore[return-value]
    if len(_shared) < SHARED_MAX:
        _shared[key] = value
    return value


Shared = Annotated[F, AfterValidator(_share)]
"""A policy value decoded once per process, however many cases carry it (see `_share`)."""


class Urgency(StrEnum):
    """The four urgency classes (紧急 / 急 / 一般 / 疑难)."""

    emergency = "emergency"
    time_sensitive = "time_sensitive"
    general = "general"
    complex = "complex"


URGENCY_LABEL: dict[Urgency, str] = {
    Urgency.emergency: "紧急",
    Urgency.time_sensitive: "急",
    Urgency.general: "一般",
    Urgency.complex: "疑难",
}


class Tier(StrEnum):
    grid = "grid"
    community = "community"
    street = "street"
    department = "department"
    district = "district"


TIER_ORDER: tuple[Tier, ...] = (Tier.grid, Tier.community, Tier.street)
"""Tiers a case climbs by 上报; departments are reached by dispatch or 吹哨, never by escalation."""


class LimitUnit(StrEnum):
    minutes = "minutes"
    hours = "hours"
    days = "days"
    working_hours = "working_hours"
    working_days = "working_days"


UNIT_NAME: dict[LimitUnit, str] = {
    LimitUnit.minutes: "分钟",
    LimitUnit.hours: "小时",
    LimitUnit.days: "天",
    LimitUnit.working_hours: "个工作小时",
    LimitUnit.working_days: "个工作日",
}
LONGEST: dict[LimitUnit, float] = {
    LimitUnit.minutes: 366 * 24 * 60,
    LimitUnit.hours: 366 * 24,
    LimitUnit.days: 366,
    LimitUnit.working_hours: 250 * 8,
    LimitUnit.working_days: 250,
}
"""A year in each unit: no limit, extension or 督办延期 is longer (a longer wait is 挂账, with its reason), so
working-day arithmetic never walks centuries, nor overflows a date, inside a workflow task."""


class Limit(Frozen):
    """A time limit such as "4 working hours" or "30 minutes"."""

    amount: float = Field(gt=0)
    unit: LimitUnit

    @model_validator(mode="after")
    def _at_most_a_year(self) -> Limit:
        longest = LONGEST[self.unit]
        if self.amount > longest:
            raise ValueError(f"时限不能超过一年（至多{longest:g}{UNIT_NAME[self.unit]}），更长的须挂账并写明原因")
        return self

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{UNIT_NAME[self.unit]}"


class ClassLimits(Frozen):
    dispatch: Limit
    sign: Limit
    reply: Limit
    tier_slices: dict[Tier, Limit] = Field(
        description="How long each tier (grid, community, street) may hold the case before it escalates itself"
    )

    @model_validator(mode="after")
    def _slices_are_climbable_tiers(self) -> ClassLimits:
        for tier in self.tier_slices:
            if tier not in TIER_ORDER:
                raise ValueError(f"tier_slices: {tier} is not a tier a case escalates through")
        return self


class WhistleKind(StrEnum):
    """工作推进哨 / 攻坚哨 / 应急哨."""

    ordinary = "ordinary"
    hard = "hard"
    emergency = "emergency"


class WhistleLimits(Frozen):
    report: Limit = Field(description="报到: a summoned department acknowledges / arrives on site")
    contact: Limit = Field(description="contact the whistling unit")
    finish: Limit = Field(description="finish the job")


class AfterStreet(StrEnum):
    """Where a case goes when the street's slice runs out with no whistle and no reply."""

    supervisor = "supervisor"
    """to the supervisor's queue (待督办改派): 改派 to a department, more time, or 销号"""
    stay = "stay"
    """it stays at the street, with the 督办 to the supervisor"""


class Supervision(Frozen):
    urge_fraction: float = Field(gt=0, lt=1, description="催办 fires at this fraction of every limit")
    public_notice_after: Limit = Field(description="通报 when a unit is still overdue this long after 督办")
    after_street: AfterStreet = Field(
        default=AfterStreet.supervisor, description="where a case goes when the street's slice runs out"
    )


class RatingRules(Frozen):
    window: Limit = Field(description="no rating within this window closes the case as 未评价")
    reopen_cap: int = Field(ge=0, description="重办 beyond this many sends the case to a supervisor")
    reopen_limit: Limit = Field(description="the new limit given to a unit on 重办 (差评整改)")


class OwnerRule(StrEnum):
    """先属地后属主 / 先属主后属地 / 兜底."""

    locality = "locality"
    owner = "owner"
    fallback = "fallback"


class Category(Frozen):
    id: str
    name: str
    owner_rule: OwnerRule
    owner_unit: str | None = Field(default=None, description="the owning department or utility (属主)")
    assisting_units: tuple[str, ...] = ()
    urgency: Urgency
    reply_limit: Limit | None = Field(default=None, description="the category's own limit, tighter than its class")
    whistle: bool = Field(default=False, description="usually needs departments summoned (综合执法, 多部门)")

    def whole_case_limit(self, urgency: Urgency, limits: ClassLimits) -> Limit:
        """The 办结 limit of a case of this category filed as `urgency` (whose class limits are `limits`): the
        category's own within the class it was set for; a case filed in another class takes that class's, so an
        emergency is never given the working hours of a general case, nor a downgraded one a limit before its sign."""
        if self.reply_limit is not None and urgency is self.urgency:
            return self.reply_limit
        return limits.reply

    @model_validator(mode="after")
    def _owner_needs_unit(self) -> Category:
        if self.owner_rule is OwnerRule.owner and not self.owner_unit:
            raise ValueError(f"category {self.id}: owner_rule 'owner' needs owner_unit")
        return self


class Unit(Frozen):
    id: str
    name: str
    tier: Tier
    parent: str | None = None


class Directory(Frozen):
    district: Shared[Unit]
    supervisor: Shared[Unit] = Field(description="the 12345 centre / 督查室 that approves what no tier above can")
    units: tuple[Shared[Unit], ...]

    @model_validator(mode="after")
    def _parents_exist(self) -> Directory:
        ids = {u.id for u in self.all_units()}
        if len(ids) != len(self.units) + 2:
            raise ValueError("units: ids must be unique")
        for u in self.units:
            if u.parent is not None and u.parent not in ids:
                raise ValueError(f"units: {u.id} names unknown parent {u.parent}")
        return self

    def all_units(self) -> tuple[Unit, ...]:
        return (self.district, self.supervisor, *self.units)

    def get(self, unit_id: str) -> Unit | None:
        return self._by_id.get(unit_id)

    def chain(self, unit_id: str) -> tuple[Unit, ...]:
        """The unit and the units above it, short of the district; () if the directory does not know it."""
        units: list[Unit] = []
        unit = self.get(unit_id)
        while unit is not None and unit.tier is not Tier.district and unit not in units:
            units.append(unit)
            unit = self.get(unit.parent) if unit.parent else None
        return tuple(units)

    def for_case(self, unit_ids: Iterable[str]) -> Directory:
        """The part of the directory a case carries: the chains of the units it starts with (its grid, lead,
        assisting and owning units), besides the district and the supervisor. The city's other units stay out
        of every case's history and memory; an action naming one the case does not carry (a move, a whistle)
        brings that unit's chain (`with_units`), and the case carries it from then on.
        """
        wanted = {u.id for uid in unit_ids for u in self.chain(uid)}
        units = tuple(u for u in self.units if u.id in wanted)
        return self if len(units) == len(self.units) else self._with(units)

    def with_units(self, units: Iterable[Unit]) -> Directory:
        """This directory and the units it did not know yet (a moved case's new chain)."""
        new = tuple(u for u in units if self.get(u.id) is None)
        return self._with((*self.units, *new)) if new else self

    def _with(self, units: tuple[Unit, ...]) -> Directory:
        # built anew, not model_copy: the copy would keep the look-up table cached for the old units
        return Directory(district=self.district, supervisor=self.supervisor, units=units)

    @cached_property
    def _by_id(self) -> dict[str, Unit]:
        # a city's directory holds thousands of grids; every event names a unit
        return {u.id: u for u in self.all_units()}


class OfficeHours(Frozen):
    periods: tuple[tuple[time, time], ...] = Field(description="working hours of a working day, local time")

    @model_validator(mode="after")
    def _ordered(self) -> OfficeHours:
        last: time | None = None
        for start, end in self.periods:
            if start >= end or (last is not None and start < last):
                raise ValueError("periods: must be ordered and non-overlapping")
            last = end
        return self


class CalendarPolicy(Frozen):
    timezone: str = "Asia/Shanghai"
    working_days: bool = Field(default=True, description="False: a city counting natural days")
    office_hours: OfficeHours
    holidays: tuple[date, ...] = Field(default=(), description="extra days off the package does not know")
    workdays: tuple[date, ...] = Field(default=(), description="extra 调休 make-up working days")


class WorkingDays(Frozen):
    """The working calendar a case carries, resolved from `CalendarPolicy` when it is opened.

    Only the exceptions to "Monday to Friday" are listed, for the years the case may live through; outside
    them the weekday rule holds. A replay therefore never consults the holiday package or the tz database.
    """

    working_days: bool
    office_hours: OfficeHours
    utc_offset_minutes: int = Field(description="the city's fixed offset from UTC (China keeps no DST)")
    first: date
    last: date
    days_off: tuple[date, ...] = Field(default=(), description="Monday–Friday days off between first and last")
    workdays: tuple[date, ...] = Field(default=(), description="Saturday/Sunday working days (调休), likewise")


class Policy(Frozen):
    version: str
    limits: dict[Urgency, ClassLimits]
    whistle: dict[WhistleKind, WhistleLimits]
    supervision: Supervision
    rating: RatingRules
    calendar: CalendarPolicy
    categories: tuple[Category, ...]
    directory: Directory

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = [u for u in Urgency if u not in self.limits]
        if missing:
            raise ValueError(f"limits: missing urgency classes {missing}")
        missing_k = [k for k in WhistleKind if k not in self.whistle]
        if missing_k:
            raise ValueError(f"whistle: missing kinds {missing_k}")
        ids = [c.id for c in self.categories]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"categories: duplicate ids {duplicates}")
        for c in self.categories:
            for uid in (c.owner_unit, *c.assisting_units):
                if uid is not None and self.directory.get(uid) is None:
                    raise ValueError(f"categories: {c.id} names unknown unit {uid}")
        return self

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)
