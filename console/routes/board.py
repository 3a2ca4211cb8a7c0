"""The supervisors' board (督办): overdue and due within the day, by unit and tier, what waits for them, the
day's misses; it refreshes itself, and each case opens its 催办/督办/改派/销号 forms beside the board."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import PartsDep, SessionDep, TemporalDep
from api.errors import ApiError
from console import queries, web
from console.accounts import User
from console.routes.case import Feedback, case_context, unshown
from console.web import PREFIX, CurrentUser
from models.inputs import Role

router = APIRouter(prefix=f"{PREFIX}/board", include_in_schema=False)
POLL_URL = f"{PREFIX}/board/part"
BOARD_ACTIONS = ("urge", "supervise", "redispatch", "extend", "close", "decide-return", "decide-extension")


def _context(session: SessionDep, parts: PartsDep) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"board": queries.board(session, directory=parts.policy.directory, now=now), "now": now}


@router.get("", response_class=HTMLResponse)
async def board(request: Request, user: CurrentUser, session: SessionDep, parts: PartsDep) -> HTMLResponse:
    web.require(user, Role.supervisor)
    context = await run_in_threadpool(_context, session, parts)
    block, _ = web.render_polled(request, "_board.html", context, url=POLL_URL, every=3)
    return web.page(request, "board.html", {"block": block})


@router.get("/part", response_class=HTMLResponse)
async def board_part(
    request: Request, user: CurrentUser, session: SessionDep, parts: PartsDep, v: str = ""
) -> Response:
    web.require(user, Role.supervisor)
    context = await run_in_threadpool(_context, session, parts)
    return web.polled(request, "_board.html", context, url=POLL_URL, v=v, every=3)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def board_case(
    request: Request,
    case_id: str,
    user: CurrentUser,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
) -> HTMLResponse:
    web.require(user, Role.supervisor)
    return await board_panel(request, user, session, parts, temporal, case_id)


async def board_panel(
    request: Request,
    user: User,
    session: SessionDep,
    parts: PartsDep,
    temporal: TemporalDep,
    case_id: str,
    *,
    feedback: Feedback | None = None,
    status: int = 200,
) -> HTMLResponse:
    """One case's supervision forms, opened beside the board (the actions its workflow offers now)."""
    try:
        context = await case_context(user, session, parts, temporal, case_id)
    except ApiError as err:
        return unshown(request, err, feedback, status)
    offered = [a for a in context["actions"] if a in BOARD_ACTIONS]
    context.update(actions=offered, feedback=feedback or Feedback())
    return web.page(request, "_board_case.html", context, status=status)
