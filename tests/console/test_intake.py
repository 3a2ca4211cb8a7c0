"""The 12345 operator's 受理 form over plain HTTP: what comes back when it is refused, and when its 工单号 was
taken before. Cases here go to 黄化门社区第二网格 (grid-b2-2), which no other console test uses."""

from __future__ import annotations

import uuid

from tests.console.conftest import Console


def intake_form(ticket: str, **fields: str) -> dict[str, str]:
    return {
        "channel_ticket_id": ticket,
        "category": "street_vending",
        "urgency": "",
        "location.grid_id": "grid-b2-2",
        "location.address": "黄化门街12号",
        "title": "占道经营",
        "description": "黄化门街口早市摊贩占道",
        "reporter.name": "赵敏",
        "reporter.phone": "13700001111",
    } | fields


async def test_a_ticket_taken_before_says_so_on_the_case_it_was_taken_as(console: Console) -> None:
    ticket = f"I{uuid.uuid4().hex[:10]}"
    async with console.desk("hotline12345") as desk:
        first = await desk.post("/console/intake", intake_form(ticket))
        assert first.status_code == 200 and "黄化门街口早市摊贩占道" in first.text, first.text
        assert "未予记录" not in first.text
        again = await desk.post(
            "/console/intake", intake_form(ticket, title="楼道堆物", description="3单元楼道堆放杂物")
        )
    assert again.status_code == 200 and again.url.path == first.url.path
    # What was sent this time is not on the case, and the page says so, and why.
    assert "3单元楼道堆放杂物" not in again.text and "黄化门街口早市摊贩占道" in again.text
    assert f"工单号 {ticket} 已受理为本诉求" in again.text and "本次提交的内容未予记录" in again.text


async def test_a_refused_intake_comes_back_with_its_deadlines_shown(console: Console) -> None:
    async with console.desk("hotline12345") as desk:
        refused = await desk.post(
            "/console/intake", intake_form(f"I{uuid.uuid4().hex[:10]}", description="摊贩\x01占道")
        )
    assert refused.status_code == 422 and "不能包含 NUL 等控制字符" in refused.text, refused.text
    # The category and the grid are still chosen: the box beside the form still shows what they give.
    assert 'id="preview-deadlines"' in refused.text and "选择类别后显示时限" not in refused.text
    assert '<strong id="preview-lead">黄化门社区第二网格</strong>' in refused.text
