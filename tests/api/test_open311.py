"""Open311 GeoReport v2 over the engine: discovery, posting (form and JSON), reading back, errors in the standard's
list format, and the reporter's phone and email never answered back."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.api.conftest import Stack, key
from tests.helpers import stored_text

BASE = "/open311/v2"
CHANNEL_KEY = "demo-open311"
PHONE = "13811112222"
EMAIL = "zhang.san.open311@example.com"


def form(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "api_key": CHANNEL_KEY,
        "service_code": "exposed_rubbish",
        "lat": "39.9163",
        "long": "116.4045",
        "attribute[grid_id]": "grid-a1-1",
        "description": "多福巷5号门口垃圾堆放三天无人清运",
        "first_name": "三",
        "last_name": "张",
        "phone": PHONE,
        "email": EMAIL,
        "device_id": "dev-1",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def assert_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert body[0]["code"] == status and body[0]["description"], body
    assert set(body[0]) == {"code", "description"}
    return str(body[0]["description"])


async def read(stack: Stack, case_id: str, api_key: str = CHANNEL_KEY) -> httpx.Response:
    return await stack.api.get(f"{BASE}/requests/{case_id}.json", params={"api_key": api_key})


async def post(stack: Stack, who: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return await stack.api.post(path, json=body or {}, headers=key(who))


async def test_services_are_public(stack: Stack) -> None:
    r = await stack.api.get(f"{BASE}/services.json")
    assert r.status_code == 200, r.text
    services = {s["service_code"]: s for s in r.json()}
    assert {"lift_entrapment", "exposed_rubbish"} <= set(services)
    lift = services["lift_entrapment"]
    assert lift["service_name"] == "电梯困人" and lift["group"] == "紧急"
    assert lift["metadata"] is True and lift["type"] == "realtime" and "电梯困人" in lift["keywords"]
    assert services["exposed_rubbish"]["group"] == "一般" and services["exposed_rubbish"]["description"]

    d = await stack.api.get(f"{BASE}/services/exposed_rubbish.json")
    assert d.status_code == 200, d.text
    assert d.json()["service_code"] == "exposed_rubbish"
    [attribute] = d.json()["attributes"]
    assert attribute["code"] == "grid_id" and attribute["datatype"] == "singlevaluelist"
    assert attribute["required"] is True and attribute["variable"] is True and attribute["order"] == 1
    assert attribute["description"] == "所在网格" and attribute["datatype_description"]
    values = {v["key"]: v["name"] for v in attribute["values"]}
    assert values["grid-a1-1"] == "多福巷社区第一网格" and "street-a" not in values

    assert "no_such" in assert_error(await stack.api.get(f"{BASE}/services/no_such.json"), 404)


async def test_form_post_reads_back_and_closes_through_the_engine(stack: Stack) -> None:
    r = await stack.api.post(f"{BASE}/requests.json", data=form())
    assert r.status_code == 201, r.text
    [created] = r.json()
    case_id = created["service_request_id"]
    assert case_id.startswith("case:open311:")
    assert created["service_notice"].startswith("已受理") and created["account_id"] is None

    seen = [r.text]
    got = await read(stack, case_id)
    assert got.status_code == 200, got.text
    [req] = got.json()
    seen.append(got.text)
    assert req["service_request_id"] == case_id and req["status"] == "open" and req["status_notes"] == "待签收"
    assert req["service_code"] == "exposed_rubbish" and req["service_name"] == "暴露垃圾"
    assert req["agency_responsible"] == "多福巷社区第一网格" and req["address"] == "多福巷社区第一网格"
    assert req["description"] == "多福巷5号门口垃圾堆放三天无人清运"
    assert (req["lat"], req["long"]) == (39.9163, 116.4045)  # posted without an address: the grid names the place
    assert req["requested_datetime"].endswith("+08:00") and req["expected_datetime"]

    # The engine's own API sees an ordinary case of channel open311, with the reporter in the vault.
    detail = (await stack.api.get(f"/cases/{case_id}", headers=key("supervisor-12345"))).json()["case"]
    assert detail["channel"] == "open311" and detail["reporter"]["masked_phone"] == "138****2222"
    shown = (await stack.api.get(f"/cases/{case_id}/reporter", headers=key("grid-a1-1"))).json()
    assert shown["name"] == "张三" and shown["phone"] == PHONE

    # Another channel neither reads it nor lists it; the supervisor does.
    assert_error(await read(stack, case_id, "demo-app"), 404)
    assert (await read(stack, case_id, "demo-supervisor-12345")).json()[0]["service_request_id"] == case_id
    mine = await stack.api.get(f"{BASE}/requests.json", params={"api_key": CHANNEL_KEY, "status": "open"})
    assert case_id in [x["service_request_id"] for x in mine.json()]
    seen.append(mine.text)
    other = await stack.api.get(f"{BASE}/requests.json", params={"api_key": "demo-app"})
    assert case_id not in [x["service_request_id"] for x in other.json()]

    c = f"/cases/{case_id}"
    assert (await post(stack, "grid-a1-1", f"{c}/sign")).json()["status"] == "handling"
    assert (await post(stack, "grid-a1-1", f"{c}/reply", {"result": "垃圾已清运"})).json()["status"] == "replied"
    r = await post(stack, "open311", f"{c}/rate", {"level": "satisfied", "solved": True})
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text

    for _ in range(100):  # the read model follows the workflow
        [req] = (await read(stack, case_id)).json()
        if req["status"] == "closed":
            break
        await asyncio.sleep(0.1)
    assert req["status"] == "closed" and req["status_notes"] == "已销号"
    assert req["updated_datetime"] >= req["requested_datetime"]
    closed = await stack.api.get(
        f"{BASE}/requests.json", params={"api_key": CHANNEL_KEY, "service_request_id": f"{case_id},nope"}
    )
    assert [x["service_request_id"] for x in closed.json()] == [case_id]
    by_status = await stack.api.get(f"{BASE}/requests.json", params={"api_key": CHANNEL_KEY, "status": "open"})
    assert case_id not in [x["service_request_id"] for x in by_status.json()]
    seen += [closed.text, by_status.text]

    # The phone is never answered back, and the email is stored nowhere: not in the database, not in the history.
    for text in seen:
        assert PHONE not in text and EMAIL not in text
    stored = stored_text(stack.settings.database_url)
    assert EMAIL not in stored and PHONE not in stored
    if stack.settings.database_url.startswith("sqlite"):  # the files too, pages not yet reused included
        folder = Path(stack.settings.database_url.split("///", 1)[1]).parent
        for f in folder.iterdir():
            assert EMAIL.encode() not in f.read_bytes() and PHONE.encode() not in f.read_bytes()
    history = await stack.temporal.get_workflow_handle(case_id).fetch_history()
    assert EMAIL not in history.to_json() and PHONE not in history.to_json()


async def test_json_post(stack: Stack) -> None:
    body = {
        "api_key": CHANNEL_KEY,
        "service_code": "lift_entrapment",
        "address_string": "多福巷7号2单元",
        "attribute": {"grid_id": "grid-a1-2"},
        "description": "2单元电梯困人，两人被困",
        "phone": PHONE,
    }
    r = await stack.api.post(f"{BASE}/requests.json", json=body)
    assert r.status_code == 201, r.text
    case_id = r.json()[0]["service_request_id"]
    [req] = (await read(stack, case_id)).json()
    assert req["service_code"] == "lift_entrapment" and req["agency_responsible"] == "某某电梯维保公司"
    assert req["address"] == "多福巷7号2单元" and req["status"] == "open"
    assert req["description"] == body["description"] and req["lat"] is None
    assert PHONE not in r.text


async def test_refusals_in_the_standard_format_start_nothing(stack: Stack) -> None:
    url = f"{BASE}/requests.json"
    ticket = {"Idempotency-Key": f"refused-{uuid.uuid4().hex}"}
    assert_error(await stack.api.post(url, data=form(api_key="nope"), headers=ticket), 403)
    assert_error(await stack.api.post(url, data=form(api_key=None), headers=ticket), 403)
    assert_error(await stack.api.post(url, data=form(api_key="demo-grid-a1-1"), headers=ticket), 403)
    assert_error(await stack.api.post(url, data=form(api_key="demo-admin"), headers=ticket), 403)
    assert "service_code" in assert_error(
        await stack.api.post(url, data=form(service_code="no_such"), headers=ticket), 400
    )
    assert "grid_id" in assert_error(
        await stack.api.post(url, data=form(**{"attribute[grid_id]": "grid-zz"}), headers=ticket), 400
    )
    assert "grid_id" in assert_error(
        await stack.api.post(url, data=form(**{"attribute[grid_id]": None}), headers=ticket), 400
    )
    assert_error(await stack.api.post(url, data=form(lat=None, long=None), headers=ticket), 400)
    assert_error(await stack.api.post(url, data=form(long=None), headers=ticket), 400)
    assert "lat" in assert_error(await stack.api.post(url, data=form(lat="north"), headers=ticket), 400)
    assert "phone" in assert_error(await stack.api.post(url, data=form(phone="12345"), headers=ticket), 400)
    assert_error(
        await stack.api.post(url, content=b"{not json", headers={**ticket, "content-type": "application/json"}), 400
    )
    assert_error(await stack.api.post(url, json={"api_key": CHANNEL_KEY, "attribute": "grid-a1-1"}), 400)

    # None of the refusals started the ticket: the first good post with its key creates the case.
    r = await stack.api.post(url, data=form(), headers=ticket)
    assert r.status_code == 201, r.text

    assert_error(await stack.api.get(url), 403)
    assert_error(await stack.api.get(url, params={"api_key": "demo-grid-a1-1"}), 403)
    assert_error(await stack.api.get(f"{BASE}/requests/case-nope.json", params={"api_key": CHANNEL_KEY}), 404)
    assert_error(await stack.api.get(f"{BASE}/requests/case-nope.json"), 403)
    assert "start_date" in assert_error(
        await stack.api.get(url, params={"api_key": CHANNEL_KEY, "start_date": "2025-01-01T00:00:00"}), 400
    )
    span = {"start_date": "2025-01-01T00:00:00+08:00", "end_date": "2025-06-01T00:00:00+08:00"}
    assert_error(await stack.api.get(url, params={"api_key": CHANNEL_KEY, **span}), 400)
    assert "open 或 closed" in assert_error(
        await stack.api.get(url, params={"api_key": CHANNEL_KEY, "status": "pending"}), 400
    )
    assert "start_date：须为日期时间" in assert_error(
        await stack.api.get(url, params={"api_key": CHANNEL_KEY, "start_date": "garbage"}), 400
    )
    for edge in ({"end_date": "0001-01-01T00:00:04Z"}, {"start_date": "9999-12-31T00:00:00Z"}):
        assert_error(await stack.api.get(url, params={"api_key": CHANNEL_KEY, **edge}), 400)
    old = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"}
    assert (await stack.api.get(url, params={"api_key": CHANNEL_KEY, **old})).json() == []


async def test_idempotency_key_gives_one_case(stack: Stack) -> None:
    headers = {"Idempotency-Key": f"app-{uuid.uuid4()}"}
    first = await stack.api.post(f"{BASE}/requests.json", data=form(), headers=headers)
    again = await stack.api.post(f"{BASE}/requests.json", data=form(description="再次提交"), headers=headers)
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    fresh = await stack.api.post(f"{BASE}/requests.json", data=form())
    assert fresh.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]


def raw_form(description: bytes, encoding: str = "utf-8") -> bytes:
    """A form body as curl's -d sends it: the description as raw bytes, not percent-encoded (the address is)."""
    fields = f"api_key={CHANNEL_KEY}&service_code=exposed_rubbish&attribute[grid_id]=grid-a1-1"
    return f"{fields}&address_string={quote('多福巷', encoding=encoding)}&description=".encode() + description


async def test_a_form_in_raw_bytes_is_read_in_its_charset_and_bad_bytes_are_refused(stack: Stack) -> None:
    url = f"{BASE}/requests.json"
    form_type = "application/x-www-form-urlencoded"
    text = "门口有人摆摊，占道经营"
    for content_type, encoding in (
        (form_type, "utf-8"),  # no charset: UTF-8
        (f"{form_type}; charset=utf-8", "utf-8"),
        (f"{form_type}; charset=GBK", "gbk"),
    ):
        body = raw_form(text.encode(encoding), encoding)
        r = await stack.api.post(url, content=body, headers={"content-type": content_type})
        assert r.status_code == 201, (content_type, r.text)
        [req] = (await read(stack, r.json()[0]["service_request_id"])).json()
        assert req["description"] == text and req["address"] == "多福巷", content_type

    ticket = {"Idempotency-Key": f"bad-bytes-{uuid.uuid4().hex}"}
    for body, content_type in (
        (raw_form(b"\xff\xfe"), form_type),
        (raw_form(b"%FF%FE"), form_type),  # percent-encoded bytes are bytes in the charset too
        (raw_form(text.encode("gbk")), f"{form_type}; charset=utf-8"),
        (raw_form(text.encode()), f"{form_type}; charset=no-such-charset"),
    ):
        description = assert_error(
            await stack.api.post(url, content=body, headers={**ticket, "content-type": content_type}), 400
        )
        assert "字符" in description, (body, content_type, description)
    # None of them started the ticket.
    r = await stack.api.post(url, content=raw_form(text.encode()), headers={**ticket, "content-type": form_type})
    assert r.status_code == 201, r.text


def multipart_form(description: bytes, boundary: str = "whistle-boundary") -> bytes:
    """A multipart form whose description part is the given raw bytes."""
    fields = {"api_key": CHANNEL_KEY, "service_code": "exposed_rubbish", "attribute[grid_id]": "grid-a1-1"}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="address_string"\r\n\r\n'.encode())
    parts.append("多福巷\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n'.encode())
    parts.append(description + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts)


async def test_a_multipart_form_is_read_in_its_charset_and_bad_bytes_are_refused(stack: Stack) -> None:
    url = f"{BASE}/requests.json"
    form_type = "multipart/form-data; boundary=whistle-boundary"
    text = "门口有人摆摊，占道经营"
    r = await stack.api.post(url, content=multipart_form(text.encode()), headers={"content-type": form_type})
    assert r.status_code == 201, r.text
    [req] = (await read(stack, r.json()[0]["service_request_id"])).json()
    assert req["description"] == text and req["address"] == "多福巷"

    ticket = {"Idempotency-Key": f"bad-multipart-{uuid.uuid4().hex}"}
    for body, content_type in (
        (multipart_form(text.encode("gbk")), form_type),
        (multipart_form(b"\xff\xfe"), f"{form_type}; charset=utf-8"),
        (multipart_form(text.encode()), f"{form_type}; charset=no-such-charset"),
    ):
        description = assert_error(
            await stack.api.post(url, content=body, headers={**ticket, "content-type": content_type}), 400
        )
        assert "字符" in description, (content_type, description)
    broken = assert_error(
        await stack.api.post(url, content=b"--x\r\nnot a part", headers={**ticket, "content-type": form_type}), 400
    )
    assert "multipart" in broken, broken
    # None of them started the ticket.
    body = multipart_form(text.encode())
    r = await stack.api.post(url, content=body, headers={**ticket, "content-type": form_type})
    assert r.status_code == 201, r.text
