"""The console: server-rendered pages (in Chinese) on the API's own app, under /console/.

Unit staff work their inbox and cases, the 12345 operator takes cases in, supervisors watch the board and the
statistics. Every page reads through the API's own functions (authorization, queue, timeline, statistics) and
every action goes through the workflow's updates, so the console holds no second copy of the rules.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from api import errors
from api.errors import ApiError
from config import Settings
from console import web
from console.routes import actions, auth, board, case, inbox, intake, stats
from policy import load_policy

SESSION_COOKIE = "console_session"


def refused_page(request: Request, err: ApiError) -> Response:
    """Every error under /console/ the routes do not show themselves (Temporal or the database away, an unknown
    page, input refused before any route ran) as a page of the console, never the API's JSON."""
    title = "页面不存在" if err.status == 404 else "暂时无法显示" if err.status >= 500 else "无法办理"
    text = "请求内容有误：" + "；".join(f"{f.field}：{f.message}" for f in err.fields) if err.fields else err.message
    page = web.page(request, "message.html", {"title": title, "text": text}, status=err.status)
    page.headers.update(err.headers or {})
    return page


def install(app: FastAPI, config: Settings) -> None:
    """Mount the console on the API's app: its session cookie, its pages and its static files."""
    web.ZONE = ZoneInfo(load_policy(config.policy_dir).calendar.timezone)
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.console_secret,
        session_cookie=SESSION_COOKIE,
        max_age=web.MAX_SESSION_HOURS * 3600,
        path=web.PREFIX,
        same_site="lax",
        https_only=config.environment != "development",
    )
    app.mount(f"{web.PREFIX}/static", StaticFiles(directory=web.HERE / "static"), name="console-static")
    for module in (auth, inbox, case, actions, intake, board, stats):
        app.include_router(module.router)
    errors.register_format(web.PREFIX, refused_page)

    @app.exception_handler(web.LoginRequired)
    async def _login(request: Request, exc: web.LoginRequired) -> Response:
        url = web.login_url(web.return_point(request), exc.expired)
        if web.is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return web.see_other(url)

    @app.exception_handler(web.CsrfFailed)
    async def _csrf(request: Request, exc: web.CsrfFailed) -> HTMLResponse:
        text = "页面已过期（安全校验未通过），请刷新页面后重试；操作未执行。"
        return web.page(request, "message.html", {"title": "请刷新页面", "text": text}, status=403)

    @app.exception_handler(web.Forbidden)
    async def _forbidden(request: Request, exc: web.Forbidden) -> HTMLResponse:
        text = "当前账号无权使用此页面。"
        return web.page(request, "message.html", {"title": "无权访问", "text": text}, status=403)
