"""Who calls: the `api_key` argument (or an `Authorization: Bearer` header) names a channel or a supervisor.

Service discovery is public, as the standard wants. Posting needs a channel key. Reading requests needs a key
too unless OPEN311_PUBLIC_READS is on (the standard allows public reads; cases are residents' matters, so a city
chooses): with a key a channel sees its own cases and a supervisor all of them; without one, a public reader
sees every case, with what the standard shows of it (never the reporter).
"""

from __future__ import annotations

from fastapi import Request

from api import auth
from api.deps import Parts
from api.open311.errors import Open311Error
from models.errors import ErrorCode
from models.inputs import Actor, Role


def given_key(request: Request, api_key: str | None) -> str | None:
    if api_key:
        return api_key
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header.split(" ", 1)[1].strip() or None
    return None


def caller(parts: Parts, request: Request, api_key: str | None) -> Actor:
    """The actor of the key; 403 for no key, a dead key or an admin key."""
    key = given_key(request, api_key)
    found = auth.lookup(parts.engine, key) if key else None
    if found is None or found[1] is None:
        raise Open311Error(403, "api_key 缺失、无效或已吊销", ErrorCode.unauthenticated)
    return found[1]


def reader(parts: Parts, request: Request, api_key: str | None) -> Actor | None:
    """The reading actor, or None for a public reader (allowed only when reads are public)."""
    if given_key(request, api_key) is None and parts.settings.open311_public_reads:
        return None
    actor = caller(parts, request, api_key)
    if actor.role not in (Role.channel, Role.supervisor):
        raise Open311Error(403, "只有受理渠道和督办人员的 api_key 可以查询诉求", ErrorCode.wrong_actor)
    return actor
