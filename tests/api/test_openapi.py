"""The OpenAPI document tells the truth, and the docs are served by the app itself (no CDN). Neither needs a
database or Temporal: the app answers them in process."""

from __future__ import annotations

import re
from typing import Any

import httpx

from api.main import create_app
from api.routes.actions import EXAMPLES, body_model
from api.schemas import CaseCreate
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS

APP = create_app()


def in_process() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://app")


ERROR_REF = "#/components/schemas/ErrorBody"


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]


async def test_every_operation_documents_its_errors_in_the_body_it_sends() -> None:
    async with in_process() as app:
        schema = (await app.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API 密钥：Authorization: Bearer <key>",
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method, op in operations(schema):
        responses = op["responses"]
        assert {"400", "413", "500", "503"} <= set(responses), (path, method)
        for status, doc in responses.items():
            if int(status) < 400 or path == "/healthz":
                continue
            body = doc["content"]["application/json"]["schema"]
            if path.startswith("/open311/"):
                assert body["items"]["$ref"] == "#/components/schemas/Error", (path, status)
            else:
                assert body["$ref"] == ERROR_REF, (path, method, status)
        assert "Retry-After" in responses["503"].get("headers", {}) or path == "/healthz"
        keyed = bool(op.get("security"))
        public = path in ("/healthz", "/metrics") or re.match(r"^/open311/(v2/)?(services|discovery)", path)
        assert keyed != bool(public), (path, "keyed" if keyed else "public")
        if keyed and path.startswith("/open311/"):
            assert op["security"] == [{"Open311Key": []}, {"ApiKey": []}] and "403" in responses, path
        elif keyed:
            assert op["security"] == [{"ApiKey": []}] and {"401", "403"} <= set(responses), path
        if "{case_id}" in path or "{unit_id}" in path:
            assert "404" in responses, path
        if method == "post" and path.startswith("/cases/"):
            assert {"202", "409"} <= set(responses), path


def test_intake_and_every_action_carry_an_example_that_is_valid() -> None:
    schemas = APP.openapi()["components"]["schemas"]
    [example] = schemas["CaseCreate"]["examples"]
    CaseCreate.model_validate(example)
    for spec in [*CASE_ACTIONS, *WHISTLE_ACTIONS]:
        model = body_model(spec.model, EXAMPLES.get(spec.name))
        if not model.model_fields:
            continue  # 签收, 报到: nothing to say
        [shown] = schemas[model.__name__]["examples"]
        model.model_validate(shown)


async def test_docs_and_redoc_serve_their_assets_from_the_app() -> None:
    async with in_process() as app:
        for page in ("/docs", "/redoc"):
            html = (await app.get(page)).text
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            assert assets, html
            for asset in assets:
                assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
                r = await app.get(asset)
                assert r.status_code == 200 and len(r.content) > 100, asset
            assert "cdn" not in html.lower() and "fonts.googleapis" not in html
