"""POST requests: a channel submits a case. It becomes an ordinary case of the channel whose `api_key` posted
it, so it is dispatched, urged, escalated and rated like any other.

Reporter privacy: a phone number (with the name, last_name + first_name) goes to the reporter vault only; an
email address is dropped unread; neither is ever answered back.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.formparsers import MultiPartException, MultiPartParser

from api import metrics
from api.deps import PartsDep
from api.open311.access import caller
from api.open311.errors import ERRORS, Open311Error, name
from api.open311.formats import Format, render
from api.open311.schemas import (
    GRID_ATTRIBUTE,
    IDEMPOTENCY_KEY_CHARS,
    NewRequest,
    RequestCreated,
    coordinates_address,
    post_body_docs,
)
from api.open311.time import local
from models.errors import ErrorCode, input_problem
from models.inputs import Role
from models.intake import Intake, Location, ReporterRef
from models.timeline import DeadlineKind
from services.intake import IntakeError, check_intake, open_case

router = APIRouter()
log = structlog.get_logger(__name__)

TITLE_CHARS = 40
DEFAULT_CHARSET = "utf-8"
"""A url-encoded form declares no charset as a rule (WHATWG URL standard): its bytes are UTF-8."""
MAX_FORM_FIELDS = 1000
# The engine's field names as the standard names them.
OPEN311_FIELD = {
    "category": "service_code",
    "location.grid_id": f"attribute[{GRID_ATTRIBUTE}]",
    "grid_id": f"attribute[{GRID_ATTRIBUTE}]",
    "address": "address_string",
    "lng": "long",
    "title": "description",
    "attachments": "media_url",
    "reporter.phone": "phone",
}


def _ticket(request: Request) -> str:
    """The channel ticket: from the client's Idempotency-Key (or X-Request-Id), else fresh."""
    given = request.headers.get("idempotency-key") or request.headers.get("x-request-id")
    if given and len(given) > IDEMPOTENCY_KEY_CHARS:
        raise Open311Error(400, f"Idempotency-Key：最多 {IDEMPOTENCY_KEY_CHARS} 个字符")
    if given:
        return hashlib.sha256(given.encode()).hexdigest()[:32]
    return uuid.uuid4().hex


async def _fields(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError) as err:
            raise Open311Error(400, "请求体不是合法的 JSON") from err
        if not isinstance(data, dict):
            raise Open311Error(400, "请求体须为 JSON 对象")
        fields = dict(data)
        attributes = fields.pop("attribute", None)
        if attributes is not None and not isinstance(attributes, dict):
            raise Open311Error(400, 'attribute：须为对象，例如 {"grid_id": "grid-a1-1"}')
        for code, value in (attributes or {}).items():
            fields.setdefault(f"attribute[{code}]", value)
        return fields
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if kind == "multipart/form-data":
            items = await _multipart_items(request)
        else:
            items = _form_items(await request.body(), request.headers.get("content-type", ""))
        repeated = sorted(k for k, n in Counter(k for k, _ in items).items() if n > 1)
        if repeated:
            raise Open311Error(400, f"{'、'.join(repeated)}：每项只能提供一次")
        return dict(items)
    if not await request.body():
        return {}
    raise Open311Error(400, "不支持的请求格式：请使用 application/x-www-form-urlencoded 或 application/json")


def _charset(content_type: str) -> str:
    """The form's declared charset, refused when Python has no codec of that name."""
    charset = DEFAULT_CHARSET
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or DEFAULT_CHARSET
    try:
        codecs.lookup(charset)
    except LookupError as err:
        raise Open311Error(400, f"不支持的字符集：{charset[:40]}（请使用 UTF-8）") from err
    return charset


class _StrictMultiPartParser(MultiPartParser):
    """Starlette's multipart parser reads a part it cannot decode in the form's charset as latin-1, so a client's
    text would be stored garbled instead of refused: each text part is checked in the charset first."""

    def on_part_end(self) -> None:
        if self._current_part.file is None:
            _decoded(bytes(self._current_part.data), self._charset)
        super().on_part_end()


async def _multipart_items(request: Request) -> list[tuple[str, str]]:
    _charset(request.headers.get("content-type", ""))  # an unknown charset is refused, not read as latin-1
    parser = _StrictMultiPartParser(request.headers, request.stream(), max_fields=MAX_FORM_FIELDS)
    try:
        form = await parser.parse()
    except MultiPartException as err:
        log.info("open311_bad_multipart", detail=err.message)
        raise Open311Error(400, "multipart 请求体格式有误，无法读取表单字段") from err
    # Uploaded files (the v2.1 draft's `media`) are not taken; media_url is.
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    await form.close()
    return items


def _decoded(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError as err:
        raise Open311Error(400, f"请求体含有不是 {charset[:40]} 编码的字符（默认 UTF-8）") from err


def _form_items(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """A url-encoded form in its declared charset, raw bytes and percent-escapes alike: Starlette's form parser
    reads raw bytes as latin-1 and replaces percent-escaped bytes it cannot decode, so a client's text would be
    stored garbled instead of refused."""
    charset = _charset(content_type)
    text = _decoded(body, charset)
    try:
        return parse_qsl(
            text, keep_blank_values=True, encoding=charset, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError as err:  # a percent-escaped byte outside the charset
        raise Open311Error(400, f"请求体含有不是 {charset[:40]} 编码的字符（默认 UTF-8）") from err
    except ValueError as err:
        raise Open311Error(400, f"表单字段过多：最多 {MAX_FORM_FIELDS} 项") from err


def _named(errors: Sequence[Any]) -> str:
    return "；".join(f"{name(e['loc'])}：{input_problem(e)}" for e in errors)


def _open311_name(loc: Sequence[Any]) -> str:
    names = [str(p) for p in loc if not isinstance(p, int)]
    return OPEN311_FIELD.get(names[-1] if names else "", names[-1] if names else "request")


def _intake(body: NewRequest, channel: str, ticket: str, parts: PartsDep) -> Intake:
    category = parts.policy.category(body.service_code)
    if category is None:
        raise Open311Error(400, f"service_code：未知的服务类别：{body.service_code}")
    if not body.grid_id:
        raise Open311Error(400, f"attribute[{GRID_ATTRIBUTE}]：必填，诉求所在网格（见服务定义）")
    if (body.lat is None) != (body.long is None):
        raise Open311Error(400, "lat/long：经纬度须同时提供")
    if body.lat is None and not body.address_string:
        raise Open311Error(400, "须提供位置：lat/long 或 address_string 之一")
    text = body.description or category.name
    try:
        return Intake(
            channel=channel,
            channel_ticket_id=ticket,
            category=category.id,
            title=" ".join(text.split())[:TITLE_CHARS] or category.name,
            description=text,
            location=Location(
                grid_id=body.grid_id,
                address=body.address_string or coordinates_address(body.lat, body.long),
                lat=body.lat,
                lng=body.long,
            ),
            reporter=ReporterRef(),
            attachments=[body.media_url] if body.media_url else [],
            reported_at=datetime.now(UTC),
        )
    except ValidationError as err:
        fields_at_fault = {_open311_name(e["loc"]) for e in err.errors()}
        raise Open311Error(400, "请求参数有误：" + "、".join(sorted(fields_at_fault))) from err


@router.post(
    "/requests.{format}",
    response_model=list[RequestCreated],
    status_code=201,
    responses={
        200: {"description": "该 Idempotency-Key 已受理过，返回原诉求", "model": list[RequestCreated]},
        201: {"description": "已受理", "content": {"text/xml": {}}},
        **ERRORS,
    },
    openapi_extra=post_body_docs(),
    summary="Open311：提交诉求（渠道密钥）",
)
async def create_request(format: Format, request: Request, parts: PartsDep) -> Response:
    """A channel submits a case. The key is checked before anything else; a refusal starts nothing.

    Posting again with the same `Idempotency-Key` (or `X-Request-Id`) header returns the first case with 200.
    """
    fields = await _fields(request)
    given = fields.get("api_key")
    key = given if isinstance(given, str) and given else request.query_params.get("api_key")
    actor = await run_in_threadpool(caller, parts, request, key)
    if actor.role is not Role.channel:
        raise Open311Error(403, "只有受理渠道的 api_key 可以提交诉求", ErrorCode.wrong_actor)
    try:
        body = NewRequest.model_validate(fields)
    except ValidationError as err:
        raise Open311Error(400, f"请求参数有误：{_named(err.errors())}") from err
    intake = _intake(body, actor.id, _ticket(request), parts)
    name_given = f"{body.last_name or ''}{body.first_name or ''}"
    reporter = (name_given, body.phone) if body.phone else None
    policy = parts.policy
    try:
        check_intake(intake, policy)
        opened = await open_case(
            await parts.temporal(),
            parts.settings.task_queue,
            intake,
            parts.vault,
            reporter,
            parts.settings.intake_wait,
            policy=policy,
        )
    except IntakeError as err:
        raise Open311Error(400, f"{OPEN311_FIELD.get(err.field, err.field)}：{err.message}") from err
    handle, existed, view = opened.handle, opened.existed, opened.view
    if not existed:
        metrics.CASES_STARTED.labels(channel=actor.id).inc()
    log.info("open311_request", case_id=handle.id, service_code=intake.category, created=not existed)

    notice = "已受理，正在派单。"
    if view is not None:
        holder = policy.directory.get(view.holder) if view.holder else None
        notice = f"已受理，已派{holder.name if holder else '承办单位'}办理"
        reply = next((d for d in view.deadlines if d.kind is DeadlineKind.reply and d.open), None)
        if reply is not None:
            notice += f"，办结时限至{local(reply.due_at, policy):%Y-%m-%d %H:%M}"
        notice += "。"
    created = [RequestCreated(service_request_id=handle.id, service_notice=notice)]
    return render(format, "service_requests", created, status=200 if existed else 201)
