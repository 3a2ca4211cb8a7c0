"""A unit's inbox: what it must do now, by kind, sorted by time left (the API's own queue)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.routes.cases import my_queue
from console import web
from console.accounts import User
from console.web import PREFIX, CurrentUser
from models.inputs import Role
from models.reads import QueueItem

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SHOWN = 50
"""Items per section unless all are asked for: the most urgent first."""
SECTIONS = (
    ("sign", "待签收"),
    ("handle", "待办理"),
    ("approve", "待审批（退单、延期）"),
    ("report", "待报到（吹哨）"),
)


def section_of(item: QueueItem) -> str:
    if item.whistle is not None:
        return "report"
    if item.todo == "签收":
        return "sign"
    if item.todo.startswith("审批") or item.todo.startswith("审核"):
        return "approve"
    return "handle"


def _context(user: User, session: SessionDep, everything: bool) -> dict[str, object]:
    queue = my_queue(web.principal(user), session)
    grouped: dict[str, list[QueueItem]] = {key: [] for key, _ in SECTIONS}
    for item in queue.data:  # already sorted by time left
        grouped[section_of(item)].append(item)
    totals = {key: len(items) for key, items in grouped.items()}
    if not everything:
        grouped = {key: items[:SHOWN] for key, items in grouped.items()}
    return {"sections": SECTIONS, "grouped": grouped, "totals": totals, "count": queue.count}


def _poll_url(everything: bool) -> str:
    return f"{PREFIX}/inbox/list" + ("?all=1" if everything else "")


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, user: CurrentUser, session: SessionDep, all: bool = False) -> HTMLResponse:
    web.require(user, Role.unit)
    block, _ = web.render_polled(request, "_inbox.html", _context(user, session, all), url=_poll_url(all))
    return web.page(request, "inbox.html", {"block": block})


@router.get("/inbox/list", response_class=HTMLResponse)
def inbox_list(request: Request, user: CurrentUser, session: SessionDep, v: str = "", all: bool = False) -> Response:
    web.require(user, Role.unit)
    return web.polled(request, "_inbox.html", _context(user, session, all), url=_poll_url(all), v=v)
