"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2), so existing civic apps can submit and track cases.

Every resource in JSON (`.json`) and XML (`.xml`), discovery at `/open311/discovery.{format}` and
`/open311/v2/discovery.{format}`, errors in the standard's list (`errors`), keys as `access` says.
"""

from fastapi import APIRouter

from api.open311 import post, requests, services
from api.open311.errors import PREFIX, render_error

router = APIRouter(prefix="/open311", tags=["open311"])
router.include_router(services.discovery_router)
for module in (services, post, requests):
    router.include_router(module.router, prefix="/v2")

__all__ = ["PREFIX", "render_error", "router"]
