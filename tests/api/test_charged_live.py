"""Who is charged, end to end on real time: a policy with limits of seconds, a real server, worker and API."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from policy import POLICY_DIR
from tests.api.conftest import Stack, api_with, key
from tests.api.test_case_flow import CHANNEL, new_case
from tests.helpers import until

REPLY_SECONDS = 12
RATING_SECONDS = 6


@pytest.fixture(scope="module")
def seconds_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo policy, but 占道经营 must be replied to within 12 seconds and a rating comes within 6."""
    folder: Path = tmp_path_factory.mktemp("seconds-policy")
    for f in POLICY_DIR.glob("*.toml"):
        shutil.copy(f, folder / f.name)
    cats = (folder / "categories.toml").read_text()
    marker = 'id = "street_vending"\n'
    assert marker in cats
    cats = cats.replace(marker, marker + f'reply_limit = {{ amount = {REPLY_SECONDS / 60}, unit = "minutes" }}\n')
    (folder / "categories.toml").write_text(cats)
    limits = (folder / "limits.toml").read_text()
    window = 'window = { amount = 3, unit = "days" }'
    assert window in limits
    (folder / "limits.toml").write_text(
        limits.replace(window, f'window = {{ amount = {RATING_SECONDS / 60}, unit = "minutes" }}')
    )
    return folder


async def test_the_reply_limit_is_charged_to_the_street_and_an_unrated_case_to_nobody(
    stack: Stack, seconds_policy: Path
) -> None:
    start = datetime.now(UTC).isoformat()
    async with api_with(stack, policy_dir=seconds_policy) as api:

        async def act(who: str, path: str, body: dict[str, Any] | None = None) -> Any:
            r = await api.post(path, json=body or {}, headers=key(who))
            assert r.status_code in (200, 201), r.text
            return r.json()

        escalated = f"/cases/{(await act(CHANNEL, '/cases', new_case(category='street_vending')))['case_id']}"
        for who in ("grid-a1-1", "comm-a1"):
            await act(who, f"{escalated}/sign")
            await act(who, f"{escalated}/escalate", {"reason": "需上级协调"})
        await act("street-a", f"{escalated}/sign")
        unrated = f"/cases/{(await act(CHANNEL, '/cases', new_case(category='exposed_rubbish')))['case_id']}"
        await act("grid-a1-1", f"{unrated}/sign")
        await act("grid-a1-1", f"{unrated}/reply", {"result": "已清运"})

        boss = key("supervisor-12345")

        async def reply_missed() -> Any:
            events = (await api.get(f"{escalated}/timeline", headers=boss)).json()["data"]
            return [e for e in events if e["kind"] == "overdue" and (e["deadline"] or {}).get("kind") == "reply"]

        missed = await until(reply_missed)
        assert [e["unit_id"] for e in missed] == ["street-a"]
        case_id = escalated.removeprefix("/cases/")

        async def supervised() -> Any:
            return [m for m in stack.hook if m["case_id"] == case_id and "办结时限已超期" in m["text"]]

        told = await until(supervised)
        assert {m["recipient"] for m in told} >= {"street-a"} and not {"grid-a1-1", "comm-a1"} & {
            m["recipient"] for m in told
        }

        async def closed() -> Any:
            return (await api.get(unrated, headers=boss)).json()["case"]["outcome"] == "unrated"

        await until(closed)
        period = {"date_from": start, "date_to": datetime.now(UTC).isoformat()}
        rows = {r["unit_id"]: r for r in (await api.get("/stats/units", params=period, headers=boss)).json()["data"]}
        assert rows["grid-a1-1"]["unrated"] >= 1
        assert "rating" not in rows["grid-a1-1"]["misses_by_kind"]
        assert rows["street-a"]["misses_by_kind"].get("reply") == 1
        assert "reply" not in rows["grid-a1-1"]["misses_by_kind"] and "reply" not in rows["comm-a1"]["misses_by_kind"]
