"""The deadline preview says what a case of the category would get: a climbing case's tier slices one after the
other, none for a case that goes to its owning department, labelled in Chinese."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Stack, key

EVE_OF_NATIONAL_DAY = "2025-09-30T10:00:00+08:00"


async def preview(stack: Stack, category: str) -> dict[str, Any]:
    r = await stack.api.get(
        "/deadline-preview", params={"category": category, "at": EVE_OF_NATIONAL_DAY}, headers=key("app")
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def tiers(shown: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (d["kind"], d["label"], d["starts_at"][:19], d["due_at"][:19])
        for d in shown["deadlines"]
        if d["kind"].startswith("tier:")
    ]


async def test_a_climbing_case_gets_each_tier_slice_after_the_one_below(stack: Stack) -> None:
    # 一般: grid 1, community 2, street 2 working days; the National Day week (Oct 1-8) is off, Saturday Oct 11 is
    # a make-up working day. 10:00 in Beijing is 02:00 UTC.
    shown = await preview(stack, "street_vending")
    assert (shown["rule"], shown["lead_tier"]) == ("属地", "grid")
    assert tiers(shown) == [
        ("tier:grid", "网格本级办理时限", "2025-09-30T02:00:00", "2025-10-09T02:00:00"),
        ("tier:community", "社区本级办理时限", "2025-10-09T02:00:00", "2025-10-11T02:00:00"),
        ("tier:street", "街道本级办理时限", "2025-10-11T02:00:00", "2025-10-14T02:00:00"),
    ]
    by_kind = {d["kind"]: d for d in shown["deadlines"]}
    assert by_kind["reply"]["due_at"].startswith("2025-10-16T02:00:00") and by_kind["reply"]["tier"] is None
    assert (by_kind["sign"]["label"], by_kind["sign"]["tier"]) == ("签收时限", "grid")
    assert by_kind["dispatch"]["label"] == "派单时限"
    assert all(d["label"].isascii() is False for d in shown["deadlines"])


async def test_an_owned_or_unclear_case_gets_only_the_slices_of_where_it_goes(stack: Stack) -> None:
    owned = await preview(stack, "construction_noise")  # 属主: the owning department, no tier slice
    assert (owned["rule"], owned["lead_tier"], tiers(owned)) == ("属主", "department", [])
    assert {d["kind"] for d in owned["deadlines"]} == {"dispatch", "sign", "reply"}
    unclear = await preview(stack, "other")  # 兜底: the street, its slice from dispatch
    assert (unclear["rule"], unclear["lead_tier"]) == ("兜底", "street")
    assert tiers(unclear) == [("tier:street", "街道本级办理时限", "2025-09-30T02:00:00", "2025-10-10T02:00:00")]


async def test_the_preview_gives_a_case_filed_in_another_class_that_class_s_reply_limit(stack: Stack) -> None:
    r = await stack.api.get(
        "/deadline-preview",
        params={"category": "exposed_rubbish", "urgency": "emergency", "at": EVE_OF_NATIONAL_DAY},
        headers=key("app"),
    )
    assert r.status_code == 200, r.text
    reply = next(d for d in r.json()["deadlines"] if d["kind"] == "reply")
    assert reply["limit"] == "2小时", reply
