"""Services: each category of the 派单目录 is a service; its one attribute is the grid (`grid_id`) the case is in.
Discovery: where the endpoint is and what it speaks. Both need no key."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from api.deps import PartsDep
from api.open311.errors import ERRORS, Open311Error
from api.open311.formats import Format, render, responses
from api.open311.schemas import (
    GRID_ATTRIBUTE,
    Attribute,
    AttributeValue,
    Discovery,
    Endpoint,
    Service,
    ServiceDefinition,
)
from models.errors import ErrorCode
from models.policy import URGENCY_LABEL, Category, OwnerRule, Policy, Tier

router = APIRouter()
discovery_router = APIRouter()

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = datetime(2026, 12, 1, tzinfo=UTC)
"""When what this endpoint offers last changed (formats, attributes, errors)."""
OWNER_RULE_LABEL = {
    OwnerRule.locality: "先属地后属主",
    OwnerRule.owner: "先属主后属地",
    OwnerRule.fallback: "兜底",
}


def _service(cat: Category, policy: Policy) -> Service:
    urgency = URGENCY_LABEL[cat.urgency]
    rule = OWNER_RULE_LABEL[cat.owner_rule]
    reply = cat.whole_case_limit(cat.urgency, policy.limits[cat.urgency])
    return Service(
        service_code=cat.id,
        service_name=cat.name,
        description=f"{cat.name}：{urgency}类诉求，{rule}，办结时限{reply}",
        metadata=True,
        type="realtime",
        keywords=",".join((cat.name, urgency, rule)),
        group=urgency,
    )


@router.get(
    "/services.{format}",
    response_model=list[Service],
    responses={**responses(list[Service], "服务列表"), 400: ERRORS[400]},
    summary="Open311：服务（诉求类别）列表，无需密钥",
)
def list_services(format: Format, parts: PartsDep) -> Response:
    return render(format, "services", [_service(c, parts.policy) for c in parts.policy.categories])


@router.get(
    "/services/{service_code}.{format}",
    response_model=ServiceDefinition,
    responses={**responses(ServiceDefinition, "服务定义"), 400: ERRORS[400], 404: ERRORS[404]},
    summary="Open311：服务定义（所在网格属性），无需密钥",
)
def service_definition(service_code: str, format: Format, parts: PartsDep) -> Response:
    policy = parts.policy
    if policy.category(service_code) is None:
        raise Open311Error(404, f"未知的服务类别：{service_code}", ErrorCode.not_found)
    grids = [u for u in policy.directory.units if u.tier is Tier.grid]
    definition = ServiceDefinition(
        service_code=service_code,
        attributes=[
            Attribute(
                variable=True,
                code=GRID_ATTRIBUTE,
                datatype="singlevaluelist",
                required=True,
                datatype_description="请选择诉求发生地所在的网格",
                order=1,
                description="所在网格",
                values=[AttributeValue(key=g.id, name=g.name) for g in grids],
            )
        ],
    )
    return render(format, "service_definition", definition)


def discovery(format: Format, request: Request, parts: PartsDep) -> Response:
    base = str(request.base_url).rstrip("/")
    found = Discovery(
        changeset=CHANGESET,
        contact="12345 政务服务便民热线",
        key_service="渠道密钥由系统管理员签发（starter.py keys issue --role channel）",
        endpoints=[
            Endpoint(
                specification=SPECIFICATION,
                url=f"{base}/open311/v2",
                changeset=CHANGESET,
                type="production" if parts.settings.production else "test",
                formats=["text/xml", "application/json"],
            )
        ],
    )
    return render(format, "discovery", found)


for _router, _name in ((discovery_router, "discovery"), (router, "discovery_v2")):
    _router.add_api_route(
        "/discovery.{format}",
        discovery,
        name=_name,
        response_model=Discovery,
        responses={**responses(Discovery, "服务发现"), 400: ERRORS[400]},
        summary="Open311：服务发现（接口地址、版本、格式），无需密钥",
    )
