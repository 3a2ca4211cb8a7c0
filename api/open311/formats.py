"""GeoReport v2's two formats: every resource as `.json` or `.xml`, the format named by the path's suffix."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from xml.etree import ElementTree

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

Format = Literal["json", "xml"]
XML_TYPE = "text/xml; charset=utf-8"
# The element of each item of a list, as the standard names them.
ITEM = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


def format_of(path: str) -> Format:
    return "xml" if path.endswith(".xml") else "json"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _element(name: str, value: Any) -> ElementTree.Element:
    node = ElementTree.Element(name)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        for key, child in value.items():
            node.append(_element(key, child))
    elif isinstance(value, list | tuple):
        for child in value:
            node.append(_element(ITEM.get(name, "item"), child))
    else:
        node.text = _text(value)
    return node


def to_xml(root: str, data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> bytes:
    body: bytes = ElementTree.tostring(_element(root, data), encoding="utf-8", xml_declaration=True)
    return body


def render(
    fmt: Format,
    root: str,
    data: BaseModel | Sequence[BaseModel] | dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`data` as JSON (a list stays a list), or as XML under `root` (`<services><service>…`)."""
    if fmt == "xml":
        return Response(to_xml(root, data), status_code=status, media_type=XML_TYPE, headers=headers)
    if isinstance(data, BaseModel):
        content: Any = data.model_dump(mode="json")
    elif isinstance(data, dict):
        content = data
    else:
        content = [item.model_dump(mode="json") for item in data]
    return JSONResponse(content, status_code=status, headers=headers)


def responses(model: Any, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI of a 200 that may come in either format."""
    return {200: {"model": model, "description": description, "content": {"text/xml": {}}}}
