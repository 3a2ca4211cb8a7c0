"""The directory of units and the category catalogue (派单目录)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentPrincipal, PartsDep
from models.policy import Category, Unit

router = APIRouter(tags=["directory"])


class UnitsPublic(BaseModel):
    data: list[Unit]
    count: int


class CategoriesPublic(BaseModel):
    data: list[Category]
    count: int
    policy_version: str


@router.get("/units", response_model=UnitsPublic, summary="单位目录：区、街道、社区、网格、部门")
def list_units(parts: PartsDep, _: CurrentPrincipal) -> UnitsPublic:
    units = list(parts.policy.directory.all_units())
    return UnitsPublic(data=units, count=len(units))


@router.get("/categories", response_model=CategoriesPublic, summary="派单目录：类别、权属规则、紧急程度")
def list_categories(parts: PartsDep, _: CurrentPrincipal) -> CategoriesPublic:
    cats = list(parts.policy.categories)
    return CategoriesPublic(data=cats, count=len(cats), policy_version=parts.policy.version)
