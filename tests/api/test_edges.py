"""The edges a city's security review probes: text no database stores, bodies too large or too deep, unknown
paths, a confidential reporter. Each answers a 4xx in the path's error format, and nothing is started."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.api.conftest import Stack, key
from tests.api.test_case_flow import CHANNEL, new_case, post
from tests.api.test_open311 import BASE, assert_error, form


def assert_invalid(r: httpx.Response, field: str) -> dict[str, object]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "InvalidInput" and field in body["message"], body
    assert field in [f["field"] for f in body.get("fields", [])], body
    return body  # type: ignore[no-any-return]


def assert_page(r: httpx.Response, status: int) -> str:
    """A refusal under /console/ is a page of the console (for the browser), never the API's JSON."""
    assert r.status_code == status and r.headers["content-type"].startswith("text/html"), r.text
    assert '<section class="card message">' in r.text, r.text
    return r.text


async def test_text_no_database_stores_is_refused_naming_the_field(stack: Stack) -> None:
    for field, body in (
        ("body.title", new_case(title="违建\u0000楼顶")),
        ("body.description", new_case(description="多福巷\u001b[31m5号")),
        ("body.location.address", new_case(location={"grid_id": "grid-a1-1", "address": "多福巷\u00005号"})),
        ("body.reporter.name", new_case(reporter={"name": "张\u0000三", "phone": "13912345678"})),
        ("body.attachments.0", new_case(attachments=["https://example.org/a\u0000.jpg"])),
    ):
        r = await post(stack, CHANNEL, "/cases", body)
        shown = assert_invalid(r, field)
        assert "控制字符" in str(shown["fields"]), shown
        case = await stack.api.get(f"/cases/case-{CHANNEL}-{body['channel_ticket_id']}", headers=key(CHANNEL))
        assert case.status_code == 404, "a refused intake started a case"
    # Line breaks and tabs are text.
    r = await post(stack, CHANNEL, "/cases", new_case(description="第一行\n第二行\t完"))
    assert r.status_code == 201, r.text


async def test_control_characters_in_paths_and_queries_never_reach_the_database(stack: Stack) -> None:
    supervisor = key("supervisor-12345")
    assert_invalid(await stack.api.get("/cases", params={"category": "a\u0000b"}, headers=supervisor), "query.category")
    assert_invalid(await stack.api.get("/cases/case-a%00b", headers=supervisor), "path")
    assert_invalid(await stack.api.get("/stats/units/grid%01", headers=supervisor), "path")
    assert_error(await stack.api.get(f"{BASE}/requests.json", params={"api_key": "a\u0000"}), 400)
    r = await stack.api.post(f"{BASE}/requests.json", data=form(description="垃圾\u0000堆放"))
    assert "description" in assert_error(r, 400)
    assert "控制字符" in assert_page(await stack.api.get("/console/cases/case-a%00b"), 422)


async def test_a_body_too_large_is_refused_before_it_is_read(stack: Stack) -> None:
    big = new_case(description="垃" * 600_000)  # 1.8 MB of UTF-8
    r = await post(stack, CHANNEL, "/cases", big)
    assert r.status_code == 413 and r.json()["code"] == "TooLarge", r.text
    r = await stack.api.post(f"{BASE}/requests.json", data=form(description="x" * 1_100_000))
    assert_error(r, 413)
    r = await stack.api.post("/console/intake", data={"description": "x" * 1_100_000})
    assert_page(r, 413)


async def test_deeply_nested_json_is_refused_not_a_server_error(stack: Stack) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    r = await stack.api.post("/cases", content=deep, headers={**key(CHANNEL), "content-type": "application/json"})
    assert r.status_code == 422 and "嵌套" in r.json()["message"], r.text
    nested = '{"api_key": "demo-open311", "attribute": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
    r = await stack.api.post(f"{BASE}/requests.json", content=nested, headers={"content-type": "application/json"})
    assert "嵌套" in assert_error(r, 400)
    # Not over the limit, but nested where a flat value belongs: a plain 4xx.
    r = await post(stack, CHANNEL, "/cases", new_case(title=[[["楼顶违建"]]]))
    assert_invalid(r, "body.title")


async def test_unknown_paths_and_methods_answer_in_the_error_shape(stack: Stack) -> None:
    r = await stack.api.get("/no/such/thing")
    assert r.status_code == 404 and r.json()["code"] == "NotFound" and r.json()["message"]
    r = await stack.api.delete("/cases", headers=key(CHANNEL))
    assert r.status_code == 405 and r.json()["code"] == "MethodNotAllowed"
    assert_error(await stack.api.get(f"{BASE}/no_such.json"), 404)
    assert_error(await stack.api.delete(f"{BASE}/services.json"), 405)
    xml = await stack.api.get(f"{BASE}/no_such.xml")
    assert xml.status_code == 404 and xml.headers["content-type"].startswith("text/xml")
    assert "<errors><error><code>404</code><description>" in xml.text
    assert "页面不存在" in assert_page(await stack.api.get("/console/no/such/page"), 404)
    assert_page(await stack.api.get("/console/cases/case-x/whistles/one"), 404)


async def test_a_confidential_reporter_shows_no_digit_of_the_phone(stack: Stack) -> None:
    body = new_case(reporter={"name": "王五", "phone": "13712345678", "confidential": True})
    r = await post(stack, CHANNEL, "/cases", body)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    for who in ("supervisor-12345", "grid-a1-1", CHANNEL):
        shown = await stack.api.get(f"/cases/{case_id}", headers=key(who))
        assert shown.status_code == 200, shown.text
        reporter = shown.json()["case"]["reporter"]
        assert reporter["confidential"] is True and reporter["masked_phone"] is None
        # Not the phone, masked or whole, anywhere in the answer; no digit of it where the reporter is shown (the
        # answer's random ids and times may hold any digits).
        assert "137****5678" not in shown.text and "13712345678" not in shown.text
        assert not any(ch.isdigit() for ch in json.dumps(reporter)), reporter
    signed = await post(stack, "grid-a1-1", f"/cases/{case_id}/sign")
    assert signed.status_code == 200 and signed.json()["reporter"]["masked_phone"] is None
    # Not confidential: the masked phone, as before.
    r = await post(stack, CHANNEL, "/cases", new_case(channel_ticket_id=f"T{uuid.uuid4().hex[:10]}"))
    shown = await stack.api.get(f"/cases/{r.json()['case_id']}", headers=key("supervisor-12345"))
    assert shown.json()["case"]["reporter"]["masked_phone"] == "139****5678"


UNREADABLE = "含有无法识别的字符（须为有效的 UTF-8 文字）"


async def test_text_that_is_not_unicode_is_refused_in_chinese(stack: Stack) -> None:
    """A lone surrogate (an escape JSON allows) inside a string is refused naming the field; bytes that are not
    UTF-8 make the body unreadable. Either way a 4xx in Chinese, and nothing is started."""
    headers = {**key(CHANNEL), "content-type": "application/json"}
    for title, status, code in ((b"\\ud800", 422, "InvalidInput"), (b"\xff\xfe", 400, "BadRequest")):
        body = json.dumps(new_case(title="MARK")).encode().replace(b"MARK", title)
        r = await stack.api.post("/cases", content=body, headers=headers)
        assert r.status_code == status and r.json()["code"] == code, r.text
        assert "请求" in r.json()["message"] and "Input should" not in r.text, r.text
        if status == 422:
            assert {f["field"]: f["message"] for f in r.json()["fields"]} == {"body.title": UNREADABLE}, r.text
        ticket = json.loads(body.decode("utf-8", "replace"))["channel_ticket_id"]
        case = await stack.api.get(f"/cases/case:{CHANNEL}:{ticket}", headers=key(CHANNEL))
        assert case.status_code == 404, "a refused intake started a case"


async def test_a_whistle_number_no_database_holds_is_refused_not_a_server_error(stack: Stack) -> None:
    created = (await post(stack, CHANNEL, "/cases", new_case())).json()
    case = f"/cases/{created['case_id']}"
    huge = "99999999999999999999"
    assert_invalid(await stack.api.get(f"{case}/whistles/{huge}", headers=key("grid-a1-1")), "path.n")
    r = await stack.api.post(f"{case}/whistles/{huge}/report", json={}, headers=key("dept-enforcement"))
    assert r.status_code in (404, 422), r.text
    assert (await stack.api.get(f"{case}/whistles/1", headers=key("grid-a1-1"))).status_code == 404


async def test_a_yes_or_no_that_is_neither_says_what_it_must_be(stack: Stack) -> None:
    r = await stack.api.get("/cases", params={"overdue": "maybe"}, headers=key("supervisor-12345"))
    body = assert_invalid(r, "query.overdue")
    assert body["fields"] == [{"field": "query.overdue", "message": "须为是或否（true 或 false）"}], body
