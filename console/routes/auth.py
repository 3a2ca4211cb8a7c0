"""Login, logout, and the home page that sends each role to its own start page."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import PartsDep
from console import accounts, web
from console.web import PREFIX, CurrentUser
from models.inputs import Role

router = APIRouter(prefix=PREFIX, include_in_schema=False)

START = {Role.unit: "inbox", Role.supervisor: "board", Role.channel: "intake"}


@router.get("/")
def home(user: CurrentUser) -> Response:
    return web.see_other(f"{PREFIX}/{START[user.role]}")


REFUSED = (
    f"用户名或密码错误。连续{accounts.MAX_FAILURES}次输错的账号将锁定{accounts.LOCK_MINUTES}分钟，"
    "请稍后再试或请管理员解锁"
)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, expired: bool = False) -> HTMLResponse:
    notice = "登录已超时，请重新登录；登录后回到原页面。" if expired else None
    return web.page(request, "login.html", {"next": web.safe_next(next), "notice": notice, "error": None})


@router.post("/login", response_model=None)
async def login(
    request: Request,
    parts: PartsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    target = web.safe_next(next)
    expected = request.session.get("csrf", "")
    if not csrf_token or not expected or not secrets.compare_digest(csrf_token, expected):
        error = "登录页面已过期，请重新输入"
        return web.page(request, "login.html", {"next": target, "notice": None, "error": error}, status=403)
    result = await run_in_threadpool(accounts.authenticate, parts.engine, username, password)
    if result.user is None:
        # One answer for a wrong password, a locked account and a name that is no account: a stranger must not
        # learn which names are accounts; the rule it states tells a locked-out person to wait.
        context = {"next": target, "notice": None, "error": REFUSED, "username": username}
        return web.page(request, "login.html", context, status=401)
    web.start_session(request, result.user)
    return web.see_other(target)


@router.post("/logout", dependencies=web.Protected)
async def logout(request: Request, user: CurrentUser, parts: PartsDep) -> Response:
    await run_in_threadpool(accounts.end_sessions, parts.engine, user.username)
    request.session.clear()
    return web.see_other(f"{PREFIX}/login")
