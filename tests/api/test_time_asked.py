"""Time a unit or a supervisor asks for (延期, 督办延期) over HTTP: more than a year of it is refused with the
field named, in Chinese, and the case is exactly as it was; the longest allowed is taken."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Stack, key
from tests.api.test_case_flow import CHANNEL, new_case, post


async def case_state(stack: Stack, case_id: str) -> Any:
    r = await stack.api.get(f"/cases/{case_id}", headers=key("supervisor-12345"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_extension_of_more_than_a_year_is_refused_and_changes_nothing(stack: Stack) -> None:
    r = await post(stack, CHANNEL, "/cases", new_case())
    assert r.status_code == 201, r.text
    c = f"/cases/{r.json()['case_id']}"
    await post(stack, "grid-a1-1", f"{c}/sign")
    before = await case_state(stack, r.json()["case_id"])
    for amount in ({"amount": 1e9, "unit": "working_days"}, {"amount": 1e300, "unit": "minutes"}):
        asked = await post(stack, "grid-a1-1", f"{c}/request-extension", {"amount": amount, "reason": "需要时间"})
        assert asked.status_code == 422, asked.text
        fields = {f["field"]: f["message"] for f in asked.json()["fields"]}
        assert "不能超过一年" in fields["body.amount"], fields
    assert await case_state(stack, r.json()["case_id"]) == before

    year = {"amount": 250, "unit": "working_days"}
    asked = await post(stack, "grid-a1-1", f"{c}/request-extension", {"amount": year, "reason": "需等待来年施工"})
    assert asked.status_code == 200, asked.text
    decided = await post(stack, "comm-a1", f"{c}/decide-extension", {"approve": True, "reason": "确需施工周期"})
    assert decided.status_code == 200, decided.text
    reply = next(d for d in decided.json()["deadlines"] if d["kind"] == "reply" and d["closed_at"] is None)
    assert reply["due_at"][:4] in ("2027", "2028"), reply
