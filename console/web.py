"""What every console page shares: templates and their filters, the logged-in user, CSRF, responses.

A session is a signed cookie (Starlette's SessionMiddleware, HttpOnly, SameSite=Lax) holding the user name,
when they logged in, when they were last active and the CSRF token. It ends on logout (for every copy of the
cookie: `accounts.end_sessions`), after `console_idle_minutes` without a request the person made (polling does
not count), and `MAX_SESSION_HOURS` after login at the latest. Then the page goes to the login form and, after
it, back where it was.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.deps import Parts, PartsDep, Principal
from console import accounts
from console.accounts import User
from models.case import OUTCOME_LABEL, STATUS_LABEL
from models.inputs import RATING_LABEL, Role
from models.policy import URGENCY_LABEL
from models.timeline import DEADLINE_LABEL, EVENT_LABEL, TIER_LABEL
from models.whistle import WHISTLE_KIND_LABEL
from services.queries import aware
from workflows.case_texts import REPORTER, SUPERVISOR

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
MAX_SESSION_HOURS = 12
POLL_PARAM = "poll"
PARTY_LABEL = {REPORTER: "诉求人", SUPERVISOR: "督办"}
"""Who a deadline or a notice may be for besides the directory's units: the rating window is the resident's."""
SECURITY_HEADERS = {
    # Scripts only from the app itself (no inline script, no eval); ECharts and htmx set inline styles.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def clock() -> float:
    """Seconds since the epoch; one place, so that tests can move the console's time."""
    return time.time()


class LoginRequired(Exception):
    def __init__(self, expired: bool) -> None:
        super().__init__("login required")
        self.expired = expired


class CsrfFailed(Exception):
    pass


class Forbidden(Exception):
    """A page for another role (a unit on the supervisors' board)."""


# ---------------------------------------------------------------------------------------------------- templates


def _context(request: Request) -> dict[str, Any]:
    parts: Parts = request.app.state.parts
    return {
        "user": getattr(request.state, "user", None),
        "csrf": csrf_token(request),
        "directory": parts.policy.directory,
        "prefix": PREFIX,
        "layout": "fragment.html" if is_htmx(request) else "base.html",
    }


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_context])
env = templates.env
env.globals.update(
    STATUS_LABEL={k.value: v for k, v in STATUS_LABEL.items()},
    EVENT_LABEL={k.value: v for k, v in EVENT_LABEL.items()},
    DEADLINE_LABEL={k.value: v for k, v in DEADLINE_LABEL.items()},
    RATING_LABEL=RATING_LABEL,
    TIER_LABEL={k.value: v for k, v in TIER_LABEL.items()},
    URGENCY_LABEL={k.value: v for k, v in URGENCY_LABEL.items()},
    WHISTLE_KIND_LABEL={k.value: v for k, v in WHISTLE_KIND_LABEL.items()},
    OUTCOME_LABEL={k.value: v for k, v in OUTCOME_LABEL.items()},
)
ZONE = ZoneInfo("Asia/Shanghai")
"""The city's own time, from its policy's calendar (`install` sets it)."""


def local(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return aware(at).astimezone(ZONE).strftime(fmt) if at else "—"


def iso(at: datetime | None) -> str:
    return aware(at).isoformat() if at else ""


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def unit_name(unit_id: str | None, directory: Any) -> str:
    if not unit_id:
        return "—"
    unit = directory.get(unit_id)
    return unit.name if unit else PARTY_LABEL.get(unit_id, unit_id)


env.filters.update(local=local, iso=iso, pct=pct, num=num)


class Entered:
    """What the person sent with one form, for the form shown again beside its refusal: every kind of field reads
    it here, so that nothing they chose comes back reset to its default."""

    def __init__(self, values: dict[str, list[str]] | None) -> None:
        self.values = values

    def __call__(self, field: str) -> str:
        """A typed field: the text that was sent."""
        sent = (self.values or {}).get(field)
        return sent[-1] if sent else ""

    def chosen(self, field: str, value: object, default: bool = False) -> bool:
        """An option, a radio button or a box: whether it was chosen when sent; on a fresh form, `default`.
        (A box left unticked sends nothing: on a sent form, absent means not chosen.)"""
        if self.values is None:
            return default
        return str(value) in self.values.get(field, [])


def entered(feedback: Any, key: str) -> Entered:
    """What was sent with the form `key`, if this page answers it."""
    return Entered(feedback.values if feedback is not None and feedback.action == key and feedback.values else None)


def past(at: datetime | None) -> bool:
    return at is not None and aware(at) < datetime.now(UTC)


def in_time(at: datetime | None, due: datetime | None) -> bool | None:
    """Whether a step was taken by its limit; None while it is not taken, or has no limit."""
    return None if at is None or due is None else aware(at) <= aware(due)


env.globals.update(unit_name=unit_name, entered=entered, past=past, in_time=in_time)


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def render_polled(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    url: str,
    every: int = 4,
    once: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """A part of a page that refreshes itself: its HTML (wrapped in the element that polls) and its version.

    The version is a digest of the part as its refresh draws it, sent back with each poll, so an unchanged part
    answers 204 and the page is left alone. `once` is what only this answer shows (how an action went: its
    refusal, what was sent with it); it is drawn into the part but left out of the version, or the refresh that
    follows would always find the part changed and draw it without them. Countdowns tick in the browser.
    """
    template = env.get_template(name)
    shared = {**_context(request), **context, "request": request}
    refreshed = template.render(shared)
    inner = template.render({**shared, **once}) if once else refreshed
    version = hashlib.sha256(refreshed.encode()).hexdigest()[:16]
    poll = escape(f"{url}{'&' if '?' in url else '?'}{POLL_PARAM}=1&v={version}")
    # hx-disinherit: the part's own forms and buttons must not inherit its target and swap.
    attrs = f'hx-get="{poll}" hx-trigger="every {every}s" hx-swap="outerHTML" hx-disinherit="*"'
    wrapper = f'<div class="poll" {attrs}>'
    return Markup(f"{wrapper}{inner}</div>"), version


def polled(request: Request, name: str, context: dict[str, Any], *, url: str, v: str, every: int = 4) -> Response:
    html, version = render_polled(request, name, context, url=url, every=every)
    if version == v:
        return Response(status_code=204)
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def goto(request: Request, url: str) -> Response:
    """After a form: htmx follows `HX-Redirect`, a plain form the 303."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return see_other(url)


# ---------------------------------------------------------------------------------------------------- sessions


def csrf_token(request: Request) -> str:
    token: str | None = request.session.get("csrf")
    if token is None:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def start_session(request: Request, user: User) -> None:
    """A fresh session (never the one the login form was served in) for the user."""
    now = clock()
    request.session.clear()
    request.session.update(user=user.username, login_at=now, seen=now, csrf=secrets.token_urlsafe(32))


def current_user(request: Request, parts: PartsDep) -> User:
    s = request.session
    username, login_at, seen = s.get("user"), s.get("login_at"), s.get("seen")
    now = clock()
    idle = parts.settings.console_idle_minutes * 60
    if not username or not isinstance(login_at, float | int) or not isinstance(seen, float | int):
        raise LoginRequired(expired=False)
    if now - seen > idle or now - login_at > MAX_SESSION_HOURS * 3600:
        s.clear()
        raise LoginRequired(expired=True)
    user = accounts.load(parts.engine, username, datetime.fromtimestamp(login_at, UTC))
    if user is None:
        s.clear()
        raise LoginRequired(expired=True)
    if request.query_params.get(POLL_PARAM) != "1":
        s["seen"] = now  # a person's request; the pages' own polling keeps no session alive
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def check_csrf(request: Request, _: CurrentUser) -> None:
    """Every form (and every htmx request, by header) carries the session's token."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    expected = request.session.get("csrf", "")
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        raise CsrfFailed()


Protected = [Depends(check_csrf)]


def principal(user: User) -> Principal:
    """The API's view of the same person: one authorization for both."""
    return Principal(role=user.role.value, actor=user.actor)


def require(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise Forbidden()


def safe_next(target: str | None) -> str:
    """Only a page of the console itself (no open redirect)."""
    if not target:
        return f"{PREFIX}/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/") or "\\" in target:
        return f"{PREFIX}/"
    return target


def login_url(next_page: str | None, expired: bool) -> str:
    url = f"{PREFIX}/login?next={quote(safe_next(next_page), safe='')}"
    return url + ("&expired=1" if expired else "")


def return_point(request: Request) -> str:
    """Where to come back after logging in: the page itself, or for a form or poll, the page it was on."""
    if is_htmx(request):
        current = request.headers.get("hx-current-url")
        if current:
            parts = urlsplit(current)
            return parts.path + (f"?{parts.query}" if parts.query else "")
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    return referer.path + (f"?{referer.query}" if referer.query else "")
