"""A case through the API as the channel, the units and the supervisor would drive it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.api.conftest import Stack, key

CHANNEL = "hotline12345"
PHONE = "13912345678"


def new_case(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel_ticket_id": f"T{uuid.uuid4().hex[:10]}",
        "category": "illegal_construction",
        "title": "楼顶违建",
        "description": "多福巷5号楼顶正在搭建彩钢房",
        "location": {"grid_id": "grid-a1-1", "address": "多福巷5号"},
        "reporter": {"name": "张三", "phone": PHONE},
    }
    body.update(overrides)
    return body


async def post(stack: Stack, who: str, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
    return await stack.api.post(path, json=body or {}, headers={**key(who), **kw.pop("headers", {})}, **kw)


async def test_full_life_through_the_api(stack: Stack) -> None:
    body = new_case()
    r = await post(stack, CHANNEL, "/cases", body)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert r.json()["holder"] == "grid-a1-1" and any(d["kind"] == "reply" for d in r.json()["deadlines"])
    again = await post(stack, CHANNEL, "/cases", body)
    assert again.status_code == 200 and again.json()["case_id"] == case_id and again.json()["created"] is False

    c = f"/cases/{case_id}"
    # A unit with nothing to do with the case is told it does not exist, as for a case that does not.
    stranger = await post(stack, "grid-a1-2", f"{c}/sign")
    missing = await post(stack, "grid-a1-2", "/cases/case:hotline12345:nothing-here/sign")
    assert stranger.status_code == missing.status_code == 404 and stranger.json() == missing.json()
    assert (await post(stack, "grid-a1-1", f"{c}/sign")).json()["status"] == "handling"
    assert (await post(stack, "grid-a1-1", f"{c}/escalate", {"reason": "需社区协调执法"})).json()["holder"] == "comm-a1"
    await post(stack, "comm-a1", f"{c}/sign")
    await post(stack, "comm-a1", f"{c}/escalate", {"reason": "需街道吹哨"})
    await post(stack, "street-a", f"{c}/sign")
    r = await post(
        stack,
        "street-a",
        f"{c}/whistle",
        {"kind": "ordinary", "departments": ["dept-enforcement"], "reason": "联合执法"},
    )
    assert r.status_code == 200, r.text
    w = f"{c}/whistles/1"
    for _ in range(100):
        r = await post(stack, "dept-enforcement", f"{w}/report")
        if r.status_code != 409 or r.json()["code"] != "NotReady":
            break
    assert r.status_code == 200, r.text
    assert (await post(stack, "dept-housing", f"{w}/report")).status_code == 404
    await post(stack, "dept-enforcement", f"{w}/contact", {"note": "已到场"})
    await post(stack, "street-a", f"{w}/release", {"department": "dept-enforcement", "note": "已拆除"})
    r = await post(
        stack,
        "street-a",
        f"{w}/rate-departments",
        {"ratings": [{"department": "dept-enforcement", "speed": 5, "cooperation": 4, "result": 5}]},
    )
    assert r.status_code == 200, r.text
    r = await post(stack, "street-a", f"{c}/reply", {"result": "违建已拆除"})
    assert r.status_code == 200, r.text
    assert (await post(stack, "app", f"{c}/rate", {"level": "satisfied", "solved": True})).status_code == 404
    r = await post(stack, CHANNEL, f"{c}/rate", {"level": "satisfied", "solved": True})
    assert r.json()["status"] == "closed"

    tl = (await stack.api.get(f"{c}/timeline", headers=key("supervisor-12345"))).json()
    kinds = [e["kind"] for e in tl["data"]]
    for k in ("intake", "sign", "escalate", "whistle", "report", "release", "reply", "rate", "close"):
        assert k in kinds
    assert tl["ui_url"].endswith(f"/workflows/{case_id}")
    assert PHONE not in str(tl) and PHONE not in str(stack.hook)


async def test_wrong_actor_and_bad_body_change_nothing(stack: Stack) -> None:
    r = await post(stack, CHANNEL, "/cases", new_case(category="street_vending"))
    c = f"/cases/{r.json()['case_id']}"
    before = (await stack.api.get(c, headers=key("supervisor-12345"))).json()["case"]

    assert (await stack.api.post(f"{c}/sign", json={})).status_code == 401
    assert (await stack.api.post(f"{c}/sign", json={}, headers={"Authorization": "Bearer nope"})).status_code == 401
    r = await post(stack, CHANNEL, f"{c}/sign")
    assert r.status_code == 403 and r.json()["code"] == "WrongActor" and "承办单位" in r.json()["message"]
    assert (await post(stack, "comm-a1", f"{c}/sign")).status_code == 404  # not its case (yet)
    r = await post(stack, "grid-a1-1", f"{c}/return", {"reason": ""})
    assert r.status_code == 422 and "reason" in str(r.json()["fields"])
    r = await post(stack, "grid-a1-1", f"{c}/return", {"reason": "不属本网格", "extra": 1})
    assert r.status_code == 422
    r = await post(stack, "grid-a1-1", f"{c}/reply", {"result": "还没签收"})
    assert r.status_code == 409 and r.json()["code"] == "WrongState"
    r = await post(stack, "supervisor-12345", f"{c}/redispatch", {"to_unit": "nowhere", "reason": "改派"})
    assert r.status_code == 422 and r.json()["code"] == "UnknownUnit"

    after = (await stack.api.get(c, headers=key("supervisor-12345"))).json()["case"]
    assert after == before


async def test_a_case_sent_to_a_grid_of_another_street_climbs_there(stack: Stack) -> None:
    """The case carries its own grid's part of the directory; the API gives a move its target's chain.
    (Units the statistics tests count are kept out: 吉祥社区第二网格 to 韶九社区第二网格.)"""
    body = new_case(category="street_vending", location={"grid_id": "grid-b1-2", "address": "吉祥胡同"})
    r = await post(stack, CHANNEL, "/cases", body)
    c = f"/cases/{r.json()['case_id']}"
    move = {"to_unit": "grid-a2-2", "reason": "位于韶九社区", "units": []}
    r = await post(stack, "supervisor-12345", f"{c}/redispatch", move)
    assert r.status_code == 422 and "units" in r.text  # the sender's to fill, not the client's
    del move["units"]
    r = await post(stack, "supervisor-12345", f"{c}/redispatch", move)
    assert r.status_code == 200 and r.json()["holder"] == "grid-a2-2", r.text
    assert (await post(stack, "grid-a2-2", f"{c}/sign")).status_code == 200
    r = await post(stack, "grid-a2-2", f"{c}/escalate", {"reason": "需社区协调"})
    assert r.status_code == 200 and (r.json()["holder"], r.json()["tier"]) == ("comm-a2", "community"), r.text


async def test_intake_validation_names_the_field(stack: Stack) -> None:
    for body, field in (
        (new_case(category="no_such"), "category"),
        (new_case(location={"grid_id": "grid-zz", "address": "某地"}), "grid_id"),
        (new_case(title="x" * 201), "title"),
        (new_case(reported_at="yesterday"), "reported_at"),
    ):
        r = await post(stack, CHANNEL, "/cases", body)
        assert r.status_code == 422, r.text
        assert field in r.text
    assert (await post(stack, "grid-a1-1", "/cases", new_case())).status_code == 403


async def test_what_is_wrong_with_each_field_is_said_in_chinese(stack: Stack) -> None:
    missing = new_case()
    del missing["title"]
    for body, field, said in (
        (new_case(title="x" * 201), "body.title", "至多200个字"),
        (missing, "body.title", "必填"),
        (new_case(reported_at="yesterday"), "body.reported_at", "须为日期时间"),
        (
            new_case(location={"grid_id": "grid-a1-1", "address": "某地", "lat": "north"}),
            "body.location.lat",
            "须为数字",
        ),
        (new_case(urgency="soon"), "body.urgency", "请选择有效的选项"),
        (new_case(priority="high"), "body.priority", "不应提交该项"),
    ):
        r = await post(stack, CHANNEL, "/cases", body)
        assert r.status_code == 422, r.text
        assert any(f["field"] == field and said in f["message"] for f in r.json()["fields"]), r.json()
    r = await stack.api.post("/cases", json=[], headers=key(CHANNEL))
    assert r.status_code == 422 and r.json()["fields"] == [{"field": "body", "message": "须为 JSON 对象"}], r.text
    r = await stack.api.get("/cases", params={"limit": 0}, headers=key("supervisor-12345"))
    assert r.status_code == 422 and r.json()["fields"] == [{"field": "query.limit", "message": "须不小于1"}], r.text


async def test_reporter_is_shown_to_the_handler_only_and_audited(stack: Stack) -> None:
    r = await post(stack, CHANNEL, "/cases", new_case(category="street_vending"))
    case_id = r.json()["case_id"]
    c = f"/cases/{case_id}"
    detail = (await stack.api.get(c, headers=key("grid-a1-1"))).json()
    assert detail["case"]["reporter"]["masked_phone"] == "139****5678" and detail["case"]["reporter"]["ref"] is None
    assert (await stack.api.get(f"{c}/reporter", headers=key("comm-a1"))).status_code == 404
    shown = await stack.api.get(f"{c}/reporter", headers=key("grid-a1-1"))
    assert shown.json() == {"case_id": case_id, "name": "张三", "phone": PHONE}

    # Passed on, the grid still reads the case, without the reporter's contact.
    await post(stack, "grid-a1-1", f"{c}/escalate", {"reason": "需社区协调"})
    detail = (await stack.api.get(c, headers=key("grid-a1-1"))).json()
    assert detail["case"]["holder"] == "comm-a1" and detail["case"]["reporter"]["masked_phone"] is None
    assert (await stack.api.get(f"{c}/reporter", headers=key("grid-a1-1"))).status_code == 403
    # Struck off, only a supervisor may still reveal the reporter (audited).
    await post(stack, CHANNEL, f"{c}/withdraw", {"reason": "已自行解决"})
    assert (await stack.api.get(f"{c}/reporter", headers=key("comm-a1"))).status_code == 403
    assert (await stack.api.get(f"{c}/reporter", headers=key("supervisor-12345"))).status_code == 200
    audit = (await stack.api.get(f"{c}/reveals", headers=key("supervisor-12345"))).json()
    assert [(a["unit_id"], a["actor"]) for a in audit["data"]] == [
        ("grid-a1-1", "grid-a1-1/grid-a1-1"),
        ("supervisor-12345", "supervisor-12345/supervisor-12345"),
    ]
    assert (await stack.api.get(f"{c}/reveals", headers=key("grid-a1-1"))).status_code == 403

    secret = await post(
        stack, CHANNEL, "/cases", new_case(reporter={"name": "李四", "phone": PHONE, "confidential": True})
    )
    r = await stack.api.get(f"/cases/{secret.json()['case_id']}/reporter", headers=key("supervisor-12345"))
    assert r.status_code == 403 and r.json()["code"] == "Confidential"


async def test_queue_lists_and_reads_respect_roles(stack: Stack) -> None:
    r = await post(
        stack,
        CHANNEL,
        "/cases",
        new_case(category="street_vending", location={"grid_id": "grid-b1-1", "address": "吉祥胡同"}),
    )
    case_id = r.json()["case_id"]
    q = (await stack.api.get("/queue", headers=key("grid-b1-1"))).json()
    item = next(i for i in q["data"] if i["case_id"] == case_id)
    assert item["todo"] == "签收" and 0 < item["seconds_left"]
    mine = (await stack.api.get("/cases", headers=key("grid-b1-1"))).json()
    assert case_id in [c["case_id"] for c in mine["data"]]
    assert (await stack.api.get("/cases?unit=grid-a1-1", headers=key("grid-b1-1"))).status_code == 403
    assert (await stack.api.get(f"/cases/{case_id}", headers=key("grid-a1-1"))).status_code == 404
    assert (await stack.api.get(f"/cases/{case_id}", headers=key("app"))).status_code == 404
    naive = await stack.api.get("/cases?reported_from=2025-01-01T00:00:00", headers=key("supervisor-12345"))
    assert naive.status_code == 422 and "reported_from" in naive.text
    everything = (await stack.api.get("/cases?status=dispatched&limit=1", headers=key("supervisor-12345"))).json()
    assert everything["count"] >= 1 and len(everything["data"]) == 1


async def test_directory_preview_health_and_metrics(stack: Stack) -> None:
    units = (await stack.api.get("/units", headers=key("app"))).json()
    assert {"grid-a1-1", "street-a", "dept-enforcement"} <= {u["id"] for u in units["data"]}
    cats = (await stack.api.get("/categories", headers=key("app"))).json()
    assert "lift_entrapment" in {c["id"] for c in cats["data"]}
    p = await stack.api.get(
        "/deadline-preview",
        params={"category": "street_vending", "at": "2025-09-30T10:00:00+08:00"},
        headers=key("app"),
    )
    reply = next(d for d in p.json()["deadlines"] if d["kind"] == "reply")
    assert reply["due_at"].startswith("2025-10-16T02:00:00")  # 10:00 in Beijing, after the National Day week
    assert (await stack.api.get("/healthz")).json()["temporal"] is True
    text = (await stack.api.get("/metrics")).text
    assert "cases_started_total" in text and "case_rejections_total" in text


async def test_merge_needs_a_target_and_shows_in_its_timeline(stack: Stack) -> None:
    target = (await post(stack, CHANNEL, "/cases", new_case())).json()["case_id"]
    duplicate = (await post(stack, CHANNEL, "/cases", new_case())).json()["case_id"]
    r = await post(
        stack, "supervisor-12345", f"/cases/{duplicate}/merge", {"into_case_id": "case-x-none", "reason": "重复"}
    )
    assert r.status_code == 422 and r.json()["code"] == "MergeTargetNotFound", r.text
    assert "case-x-none" in r.json()["message"]
    r = await post(
        stack, "supervisor-12345", f"/cases/{duplicate}/merge", {"into_case_id": target, "reason": "同一问题"}
    )
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    for _ in range(100):  # the target records it on its next turn
        tl = (await stack.api.get(f"/cases/{target}/timeline", headers=key("supervisor-12345"))).json()
        merged = [e for e in tl["data"] if e["kind"] == "merged_in"]
        if merged:
            break
        await asyncio.sleep(0.1)
    assert len(merged) == 1 and duplicate in merged[0]["text"], tl


async def test_the_temporal_web_ui_lists_a_case_by_its_title_and_holder(stack: Stack) -> None:
    case_id = (await post(stack, CHANNEL, "/cases", new_case(title="楼道堆物"))).json()["case_id"]
    handle = stack.temporal.get_workflow_handle(case_id)
    desc = await handle.describe()
    assert await desc.static_summary() == "楼道堆物（违法建设）"
    assert "grid-a1-1" in (await desc.static_details() or "")
    meta = await handle.query("__temporal_workflow_metadata")
    assert "待签收" in meta.current_details and "多福巷社区第一网格" in meta.current_details
