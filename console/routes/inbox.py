"""A unit's inbox: what it must do now, by kind, sorted by time left (the API's own queue)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.routes.cases import my_queue
from api.schemas import QueueItem
from console import web
from console.web import PREFIX, CurrentUser
from models.case import Role

router = APIRouter(prefix=PREFIX, include_in_schema=False)

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


def _context(user: web.User, session: SessionDep) -> dict[str, object]:
    queue = my_queue(web.principal(user), session)
    grouped: dict[str, list[QueueItem]] = {key: [] for key, _ in SECTIONS}
    for item in queue.data:  # already sorted by time left
        grouped[section_of(item)].append(item)
    return {"sections": SECTIONS, "grouped": grouped, "count": queue.count}


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    web.require(user, Role.unit)
    block, _ = web.render_polled(request, "_inbox.html", _context(user, session), url=f"{PREFIX}/inbox/list")
    return web.page(request, "inbox.html", {"block": block})


@router.get("/inbox/list", response_class=HTMLResponse)
def inbox_list(request: Request, user: CurrentUser, session: SessionDep, v: str = "") -> Response:
    web.require(user, Role.unit)
    return web.polled(request, "_inbox.html", _context(user, session), url=f"{PREFIX}/inbox/list", v=v)
