"""Open311 GeoReport v2, so existing civic apps can submit and track cases."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/open311/v2", tags=["open311"])
