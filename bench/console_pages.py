"""Console page render latency over a large read model, beside the API's own reads of the same data.

A read model (SQLite, the embedded default) is filled with N cases as the engine projects them (cases, their
timelines, the units each involved, whistles and their summoned departments), and the API runs as `make run`
starts it. Then, one request at a time from a logged-in browser's cookie or an API key: a grid's and a
summoned department's inbox (and the API's `GET /queue` that it is built on), the supervisors' board and its
3-second refresh, and the API's case list.
Latency is client-side, on loopback, after a warm-up. No Temporal server is needed: none of these reads one.

    .venv/bin/python -m bench.console_pages --cases 20000 --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.common import percentile, report
from bench.stack import api_server, wait_for_http
from console.accounts import DEMO_PASSWORD
from models.tables import CaseRow, CaseUnitRow, EventRow, WhistleDepartmentRow
from policy import POLICY_DIR, load_policy
from scripts.temporal_dev import free_port
from store.db import engine_for

TARGET_P95_MS = 200.0
GRID, DEPARTMENT = "grid-a1-1", "dept-enforcement"
OPEN_STATUSES = (("dispatched", 0.08), ("handling", 0.12), ("return_pending", 0.02), ("supervisor", 0.01))
WHISTLED = 0.06


def fill(database_url: str, cases: int, seed: int = 7) -> dict[str, int]:
    """`cases` cases spread over the demo district's units and the last 30 days, as the engine records them."""
    rng = random.Random(seed)
    directory = load_policy(POLICY_DIR).directory
    grids = [u for u in directory.units if u.tier.value == "grid"]
    departments = [u.id for u in directory.units if u.tier.value == "department"]
    now = datetime.now(UTC)
    case_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    involved: set[tuple[str, str]] = set()
    summons: list[dict[str, Any]] = []
    whistles = 0

    def event(case_id: str, seq: int, at: datetime, what: str, unit: str | None, **data: str) -> None:
        events.append(
            {"case_id": case_id, "seq": seq, "at": at, "kind": what, "actor": "bench", "unit_id": unit,
             "tier": None, "text": what, "data": data, "deadline_kind": None, "deadline_due": None,
             "deadline_met": True if what in ("sign", "reply", "report") else None}
        )  # fmt: skip

    for i in range(cases):
        grid = rng.choice(grids)
        community = directory.get(grid.parent or "")
        street = directory.get(community.parent or "") if community else None
        assert community is not None and street is not None
        case_id = f"case-bench-{i:06d}"
        reported = now - timedelta(minutes=rng.uniform(10, 30 * 24 * 60))
        roll, status = rng.random(), "closed"
        for name, share in OPEN_STATUSES:
            if roll < share:
                status = name
                break
            roll -= share
        holder = rng.choices([grid.id, community.id, street.id, rng.choice(departments)], [50, 20, 15, 15])[0]
        tier = directory.get(holder).tier.value  # type: ignore[union-attr]
        running = status != "closed"
        seq = 0

        def nxt() -> int:
            nonlocal seq
            seq += 1
            return seq

        event(case_id, nxt(), reported, "intake", None)
        event(case_id, nxt(), reported, "dispatch", grid.id)
        if status != "dispatched":
            event(case_id, nxt(), reported + timedelta(hours=1), "sign", holder)
        if rng.random() < WHISTLED:
            whistles += 1
            summoned = rng.sample(departments, 2)
            at = reported + timedelta(hours=2)
            whistler = rng.choice([community.id, street.id])
            event(case_id, nxt(), at, "whistle", whistler, n="1", kind="ordinary", departments=",".join(summoned))
            reporting = summoned if not running else summoned[:1]
            for dept in reporting:
                event(case_id, nxt(), at + timedelta(minutes=30), "report", dept, whistle="1")
            if not running:
                for dept in summoned:
                    event(case_id, nxt(), at + timedelta(hours=5), "release", dept, whistle="1")
                event(case_id, nxt(), at + timedelta(hours=6), "whistle_closed", None, whistle="1")
            involved.update((case_id, u) for u in (whistler, *summoned))
            summons += [
                {"case_id": case_id, "n": 1, "unit_id": dept, "kind": "ordinary", "whistler": whistler,
                 "summoned_at": at, "report_due": at + timedelta(hours=1), "contact_due": at + timedelta(hours=24),
                 "finish_due": at + timedelta(days=3),
                 "reported_at": at + timedelta(minutes=30) if dept in reporting else None,
                 "report_in_time": True if dept in reporting else None, "contacted_at": None,
                 "released_at": None if running else at + timedelta(hours=5),
                 "rated_at": None if running else at + timedelta(hours=6), "speed": None if running else 5,
                 "cooperation": None if running else 4, "result": None if running else 5, "closed": not running}
                for dept in summoned
            ]  # fmt: skip
        if not running:
            event(case_id, nxt(), reported + timedelta(days=1), "reply", holder)
            event(case_id, nxt(), reported + timedelta(days=2), "rate", holder, level="satisfied", solved="true")
            event(case_id, nxt(), reported + timedelta(days=2), "close", holder)
        involved.update((case_id, u) for u in (grid.id, holder))
        case_rows.append(
            {"case_id": case_id, "channel": "hotline12345", "channel_ticket_id": f"b{i}", "category": "street_vending",
             "urgency": "general", "title": f"诉求{i}", "grid_id": grid.id, "reporter_ref": None, "status": status,
             "holder": holder, "awaiting": community.id if status == "return_pending" else None, "tier": tier,
             "overdue": running and rng.random() < 0.15,
             "next_deadline": now + timedelta(hours=rng.uniform(-48, 72)) if running else None,
             "reported_at": reported, "reply_due": reported + timedelta(days=7), "replied_by": None if running
             else holder, "replied_at": None, "rating": None if running else "satisfied", "solved": None,
             "reopen_count": 0, "whistled": False, "outcome": None if running else "rated",
             "closed_at": None if running else reported + timedelta(days=2), "last_seq": seq,
             "policy_version": "bench"}
        )  # fmt: skip
    engine = engine_for(database_url)
    with engine.begin() as conn:
        for start in range(0, len(case_rows), 2000):
            conn.execute(insert(CaseRow), case_rows[start : start + 2000])
        for start in range(0, len(events), 5000):
            conn.execute(insert(EventRow), events[start : start + 5000])
        units = [{"case_id": c, "unit_id": u} for c, u in sorted(involved)]
        for start in range(0, len(units), 5000):
            conn.execute(insert(CaseUnitRow), units[start : start + 5000])
        conn.execute(insert(WhistleDepartmentRow), summons)
    return {"cases": len(case_rows), "events": len(events), "whistles": whistles}


async def login(http: httpx.AsyncClient, username: str) -> None:
    form = await http.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login page"
    r = await http.post(
        "/console/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    assert r.status_code == 303, f"login as {username}: {r.status_code}"


async def measure(http: httpx.AsyncClient, path: str, requests: int, warmup: int = 10, **kw: Any) -> dict[str, Any]:
    for _ in range(warmup):
        (await http.get(path, **kw)).raise_for_status()
    times, size = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        r = await http.get(path, **kw)
        times.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        size = len(r.content)
    return {
        "path": path,
        "requests": requests,
        "bytes": size,
        "p50_ms": round(percentile(times, 0.5), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "p99_ms": round(percentile(times, 0.99), 1),
    }


async def run(cases: int = 20_000, requests: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'cases.db'}"
        started = time.monotonic()
        filled = fill(url, cases)
        fill_s = time.monotonic() - started
        port, log = free_port(), folder / "api.log"
        # Temporal is not needed (nor started): the address only has to be syntactically right.
        with api_server(f"127.0.0.1:{free_port()}", "bench-console", url, POLICY_DIR, port, log) as proc:
            base = f"http://127.0.0.1:{port}"
            await wait_for_http(f"{base}/units", proc, log, headers={"Authorization": "Bearer demo-hotline12345"})
            pages: dict[str, dict[str, Any]] = {}
            async with (
                httpx.AsyncClient(base_url=base, timeout=30) as grid,
                httpx.AsyncClient(base_url=base, timeout=30) as dept,
                httpx.AsyncClient(base_url=base, timeout=30) as boss,
                httpx.AsyncClient(base_url=base, timeout=30) as api,
            ):
                for client, who in ((grid, GRID), (dept, DEPARTMENT), (boss, "supervisor-12345")):
                    await login(client, who)
                pages["console inbox (grid)"] = await measure(grid, "/console/inbox", requests)
                pages["console inbox (department)"] = await measure(dept, "/console/inbox", requests)
                pages["console board"] = await measure(boss, "/console/board", requests)
                pages["console board refresh"] = await measure(boss, "/console/board/part?poll=1&v=", requests)
                key = {"Authorization": f"Bearer demo-{GRID}"}
                pages["API GET /queue (grid)"] = await measure(api, "/queue", requests, headers=key)
                key = {"Authorization": f"Bearer demo-{DEPARTMENT}"}
                pages["API GET /queue (department)"] = await measure(api, "/queue", requests, headers=key)
                key = {"Authorization": "Bearer demo-supervisor-12345"}
                pages["API GET /cases (supervisor)"] = await measure(api, "/cases?limit=50", requests, headers=key)
                key = {"Authorization": "Bearer demo-supervisor-12345"}
                pages["API GET /cases?overdue (supervisor)"] = await measure(
                    api, "/cases?overdue=true&limit=50", requests, headers=key
                )
    return {"params": {"cases": cases, "requests": requests}, "filled": filled, "fill_s": round(fill_s, 1),
            "pages": pages, "target_p95_ms": TARGET_P95_MS, "load_average": os.getloadavg()}  # fmt: skip


def summary(r: dict[str, Any]) -> str:
    f = r["filled"]
    lines = [
        "## Console pages",
        "",
        f"{f['cases']:,} cases ({f['events']:,} timeline events, {f['whistles']:,} whistles) in the SQLite read "
        f"model; {r['params']['requests']} requests per page, one at a time, after a warm-up; the API as "
        "`make run` starts it (one uvicorn process). Load average at the end "
        + "/".join(f"{x:.1f}" for x in r["load_average"])
        + " (other work on the machine shows in the p95).",
        "",
        "| page | p50 (ms) | p95 (ms) | p99 (ms) | bytes |",
        "|---|---|---|---|---|",
    ]
    for name, p in r["pages"].items():
        lines.append(f"| {name} | {p['p50_ms']} | **{p['p95_ms']}** | {p['p99_ms']} | {p['bytes']:,} |")
    worst = max((p["p95_ms"] for n, p in r["pages"].items() if n.startswith("console")), default=0.0)
    verdict = "met" if worst < r["target_p95_ms"] else "missed"
    lines += ["", f"Target: console page p95 < {r['target_p95_ms']:.0f} ms: {verdict} (worst {worst} ms).", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.console_pages", description=__doc__)
    p.add_argument("--cases", type=int, default=20_000)
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args()
    report("console_pages", asyncio.run(run(args.cases, args.requests)), summary)


if __name__ == "__main__":
    main()
