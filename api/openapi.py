"""OpenAPI that tells the truth: every operation documents the errors it can answer, in the body it answers them
with (`ErrorBody`; under /open311/ the standard's list), and the headers that come with them.

FastAPI documents only a 422 in a shape this API never sends; `document` replaces it, once, for every route,
from what the route is: keyed (401, 403), on a resource (404), an action (202, 409), anything (400, 413, 422,
500, 503: the database or Temporal away, with Retry-After).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import ErrorBody, FieldError

ERROR = {"$ref": "#/components/schemas/ErrorBody"}
OPEN311_ERROR = {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before sending the same request again",
        "schema": {"type": "integer"},
    }
}
MEANING = {
    "202": "已受理、仍在办理：稍后带 Idempotency-Key: <request_id> 重发同一请求取得结果",
    "400": "请求无法解析",
    "401": "缺少或无效的 API 密钥",
    "403": "无权执行此操作",
    "404": "不存在（或无权查看）",
    "405": "不支持的请求方法",
    "409": "当前状态不允许此操作（已销号、重复提交等）",
    "413": "请求体过大",
    "422": "请求内容有误（fields 指出字段）",
    "500": "服务内部错误",
    "503": "数据库或 Temporal 暂时不可用，稍后重发同一请求",
}


def _error(status: str, open311: bool) -> dict[str, Any]:
    schema = OPEN311_ERROR if open311 else ERROR
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if open311:
        content["text/xml"] = {"schema": {"type": "string"}}
    doc: dict[str, Any] = {"description": MEANING[status], "content": content}
    if status in ("202", "503"):
        doc["headers"] = RETRY_AFTER
    return doc


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    if path.startswith("/open311/"):  # the standard's statuses: 400 for bad input, 403 for keys
        wanted = ["400", "405", "413", "500", "503"]
        wanted += ["403"] if path.startswith("/open311/v2/requests") else []
    else:
        wanted = ["400", "405", "413", "422", "500", "503"]
        wanted += ["401", "403"] if operation.get("security") else []
    if "{" in path.replace("{format}", ""):
        wanted.append("404")
    if method == "post" and path.startswith("/cases/"):
        wanted += ["202", "409"]
    return wanted


def document(app: FastAPI) -> None:
    """Install the truthful schema as `app.openapi`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components["ErrorBody"].pop("$defs", None)
        components["FieldError"] = FieldError.model_json_schema()
        schema["components"].setdefault("securitySchemes", {})["Open311Key"] = {
            "type": "apiKey",
            "in": "query",
            "name": "api_key",
            "description": "Open311 的 api_key（也接受 Authorization: Bearer）",
        }
        for path, item in schema["paths"].items():
            open311 = path.startswith("/open311/")
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                if open311:
                    responses.pop("422", None)
                if path.startswith("/open311/v2/requests"):
                    operation["security"] = [{"Open311Key": []}, {"ApiKey": []}]
                for status in _statuses(path, method, operation):
                    documented = responses.get(status)
                    if documented is None or status == "422" or not documented.get("content"):
                        responses[status] = _error(status, open311) | (
                            {"description": documented["description"]} if documented and status != "422" else {}
                        )
                    elif status == "503" and path != "/healthz":
                        documented.setdefault("headers", RETRY_AFTER)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
