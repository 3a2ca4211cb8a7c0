"""The standard's bodies: services and their definitions, requests posted and read, discovery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.base import Url, storable

GRID_ATTRIBUTE = "grid_id"
IDEMPOTENCY_KEY_CHARS = 200


def coordinates_address(lat: float | None, long: float | None) -> str:
    """The case's address when only lat/long were posted (a case needs one); never read back as posted."""
    return f"经纬度 {lat},{long}"


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="true: the service has attributes (the grid); see its definition")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str = Field(description="comma separated")
    group: str = Field(description="the urgency class (紧急 / 急 / 一般 / 疑难)")


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class RequestCreated(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str
    service_code: str
    description: str = Field(description="as posted")
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str = Field(description="as posted (address_string); the grid's name for a case recorded without it")
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class NewRequest(BaseModel):
    """POST requests arguments. Form-encoded as the standard has it, or JSON with `attribute` an object.

    Arguments the engine does not use (email, device_id, account_id, jurisdiction_id, address_id) are accepted and
    dropped; an email address is never stored.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    api_key: str | None = Field(default=None, description="a channel's key (or in the query, or as a Bearer token)")
    service_code: str = Field(description="the category id, from services.json")
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: Annotated[str, storable(1, 200)] | None = None
    grid_id: str | None = Field(default=None, alias=f"attribute[{GRID_ATTRIBUTE}]", description="所在网格 (required)")
    description: Annotated[str, storable(1, 2000)] | None = None
    first_name: Annotated[str, storable(1, 25)] | None = None
    last_name: Annotated[str, storable(1, 25)] | None = None
    phone: str | None = Field(default=None, max_length=20)
    media_url: Url | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, v: Any) -> Any:
        # HTML forms send empty fields as "".
        return None if isinstance(v, str) and not v.strip() else v


def post_body_docs() -> dict[str, Any]:
    form = NewRequest.model_json_schema(by_alias=True)
    as_json = NewRequest.model_json_schema(by_alias=True)
    as_json["properties"] = dict(as_json["properties"])
    as_json["properties"].pop(f"attribute[{GRID_ATTRIBUTE}]")
    as_json["properties"]["attribute"] = {
        "type": "object",
        "properties": {GRID_ATTRIBUTE: {"type": "string", "description": "所在网格"}},
        "required": [GRID_ATTRIBUTE],
    }
    example = {
        "service_code": "exposed_rubbish",
        "lat": 39.9163,
        "long": 116.4045,
        "address_string": "多福巷5号",
        f"attribute[{GRID_ATTRIBUTE}]": "grid-a1-1",
        "description": "多福巷5号门口垃圾堆放三天无人清运",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": form, "example": example},
                "application/json": {"schema": as_json},
            },
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_CHARS},
                "description": "同一渠道重复提交同一键只受理一次（也接受 X-Request-Id）",
            }
        ],
    }


class Endpoint(BaseModel):
    specification: str
    url: str
    changeset: datetime
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    changeset: datetime
    contact: str
    key_service: str
    endpoints: list[Endpoint]
