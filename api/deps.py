"""Dependencies: the engine's parts from the app state, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from api import auth
from api.errors import ApiError, not_found, unavailable
from config import Settings
from models.errors import ErrorCode
from models.inputs import Actor, Role
from models.policy import Policy
from models.tables import CaseRow
from services import queries
from store.vault import ReporterVault
from temporal_client import connect


@dataclass
class Parts:
    """What every request may use; built once in the app's lifespan."""

    settings: Settings
    engine: Engine
    vault: ReporterVault
    policy: Policy
    client: Client | None = None

    async def temporal(self) -> Client:
        if self.client is None:
            # Temporal may come up after the API: connect on first use, and answer 503 until it does.
            try:
                self.client = await connect(self.settings)
            except Exception as err:
                raise unavailable() from err
        return self.client


def get_parts(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


PartsDep = Annotated[Parts, Depends(get_parts)]


async def get_temporal(parts: PartsDep) -> Client:
    return await parts.temporal()


TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_session(parts: PartsDep) -> Iterator[Session]:
    with Session(parts.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True)
class Principal:
    role: str
    actor: Actor | None

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.supervisor

    def case_actor(self) -> Actor:
        if self.actor is None:
            raise ApiError(403, ErrorCode.wrong_actor, "管理员账号不能办理诉求")
        return self.actor


# The API key as `Authorization: Bearer <key>`; OpenAPI shows it as a security scheme (/docs: Authorize).
bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey", description="API 密钥：Authorization: Bearer <key>")


def get_principal(
    parts: PartsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, ErrorCode.unauthenticated, "缺少身份凭证：请在 Authorization 头中提供 Bearer 密钥")
    found = auth.lookup(parts.engine, credentials.credentials.strip())
    if found is None:
        raise ApiError(401, ErrorCode.unauthenticated, "身份凭证无效或已吊销")
    return Principal(role=found[0], actor=found[1])


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: str):  # type: ignore[no-untyped-def]
    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, ErrorCode.wrong_actor, "当前账号无权执行此操作")
        return principal

    return check


def readable(session: Session, principal: Principal, case_id: str) -> CaseRow:
    """The case, if the caller may read it; a case it may not read is answered as one that does not exist."""
    row = queries.readable_case(session, case_id=case_id, role=principal.role, actor=principal.actor)
    if row is None:
        raise not_found()
    return row


ChannelDep = Annotated[Principal, Depends(require_role(Role.channel))]
SupervisorDep = Annotated[Principal, Depends(require_role(Role.supervisor))]
StaffDep = Annotated[Principal, Depends(require_role(Role.unit, Role.supervisor))]
