"""受理 for the 12345 operator: the form, the deadlines the case will get before it is sent, and the channel's
recent cases. Submission is the API's own `POST /cases` (the same checks, the same 受理 service)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import PartsDep, SessionDep
from api.errors import ApiError, refusal
from api.routes.cases import create_case, list_cases, preview_deadlines
from api.schemas import CaseCreate
from console import forms, web
from console.accounts import User
from console.web import PREFIX, CurrentUser
from models.inputs import Role
from models.policy import Tier, Urgency
from rules.routing import RoutingError, route

router = APIRouter(prefix=f"{PREFIX}/intake", include_in_schema=False)


def new_ticket() -> str:
    return f"T{datetime.now(web.ZONE):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def _form_context(parts: PartsDep, user: User, values: dict[str, Any]) -> dict[str, Any]:
    directory = parts.policy.directory
    grids = [u for u in directory.units if u.tier is Tier.grid]
    return {
        "categories": parts.policy.categories,
        "grids": grids,
        "urgencies": list(Urgency),
        "values": {"channel_ticket_id": new_ticket(), **values},
        # The form comes back (refused) with its choices: the box beside it shows what they give, as it did.
        "preview_box": _preview(
            parts,
            user,
            values.get("category", ""),
            values.get("urgency", ""),
            values.get("location.grid_id", ""),
        ),
    }


def _preview(parts: PartsDep, user: User, category: str, urgency: str, grid_id: str) -> dict[str, Any]:
    """The deadlines (and the unit) the case would get if it were dispatched now: the API's own preview."""
    if not category:
        return {"preview": None, "error": None, "routing": None}
    try:
        level = Urgency(urgency) if urgency else None
    except ValueError:
        level = None
    try:
        shown = preview_deadlines(parts, web.principal(user), category, level, at=None)
    except ApiError as err:
        return {"preview": None, "error": err.message, "routing": None}
    cat = parts.policy.category(category)
    try:
        routing = route(cat, grid_id, parts.policy.directory) if cat and grid_id else None
    except RoutingError:
        routing = None
    return {"preview": shown, "error": None, "routing": routing}


def _recent(user: User, session: SessionDep) -> list[Any]:
    listed = list_cases(
        web.principal(user),
        session,
        status=None,
        unit=None,
        tier=None,
        category=None,
        overdue=None,
        reported_from=None,
        reported_to=None,
        offset=0,
        limit=20,
    )
    return listed.data


@router.get("", response_class=HTMLResponse)
async def intake_form(request: Request, user: CurrentUser, parts: PartsDep, session: SessionDep) -> HTMLResponse:
    web.require(user, Role.channel)
    context = {
        **_form_context(parts, user, {}),
        "recent": await run_in_threadpool(_recent, user, session),
        "error": None,
    }
    return web.page(request, "intake.html", context)


@router.get("/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    user: CurrentUser,
    parts: PartsDep,
    category: str = "",
    urgency: str = "",
    grid_id: Annotated[str, Query(alias="location.grid_id")] = "",
) -> HTMLResponse:
    web.require(user, Role.channel)
    return web.page(request, "_preview.html", _preview(parts, user, category, urgency, grid_id))


@router.post("", response_class=HTMLResponse, dependencies=web.Protected)
async def submit(
    request: Request,
    user: CurrentUser,
    parts: PartsDep,
    session: SessionDep,
) -> Response:
    web.require(user, Role.channel)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k not in forms.SKIPPED}
    error, status = None, 422
    try:
        data = forms.parse(CaseCreate, form)
        data["reporter"] = {**data.get("reporter", {}), "confidential": form.get("reporter.confidential") == "true"}
        body = CaseCreate.model_validate(data)
        # Temporal asked for here, not as a dependency: while it is away the form comes back with what was typed.
        created = await create_case(body, web.principal(user), parts, await parts.temporal(), Response())
    except ValidationError as err:
        error = forms.explain(err)
    except Exception as exc:  # refused (422), or Temporal away (503: the same ticket may be sent again)
        if (refused := refusal(exc)) is None:
            raise
        error, status = refused.message, refused.status
    if error is None:
        return web.goto(request, f"{PREFIX}/cases/{created.case_id}?{'done=intake' if created.created else 'again=1'}")
    context = {
        **_form_context(parts, user, values),
        "recent": await run_in_threadpool(_recent, user, session),
        "error": error,
    }
    return web.page(request, "intake.html", context, status=status)
