"""Statistics per unit and period (三率 and the rest) and the ranking of units."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/stats", tags=["stats"])
