"""`starter.py keys ...`: API keys, issued and revoked by an admin on the machine that holds the read model
(DATABASE_URL). A key is printed once; only its SHA-256 is stored."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from api import auth
from config import settings
from models.errors import input_problem
from models.inputs import Actor, Role
from policy import load_policy
from store.db import engine_for

keys_app = typer.Typer(help="API 密钥：签发与吊销（管理员操作，直接写读模型数据库）", no_args_is_help=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


class KeyRole(StrEnum):
    channel = "channel"
    unit = "unit"
    supervisor = "supervisor"
    admin = "admin"


def key_engine() -> Engine:
    """The read-model database the API checks keys against (DATABASE_URL); tests replace this."""
    return engine_for(settings.database_url)


def key_owner(role: KeyRole, actor_id: str, unit: str | None) -> tuple[str, str | None]:
    """The checked (actor id, unit id) of a new key; a message in Chinese and exit 2 on bad input."""
    actor_id = actor_id.strip()
    unit = (unit or "").strip() or None
    if role in (KeyRole.channel, KeyRole.admin) and unit:
        raise fail(f"{role.value} 密钥不属于任何单位：请去掉 --unit")
    if role is KeyRole.unit and not unit:
        raise fail("单位人员的密钥须用 --unit 指定所属单位，如 --unit grid-a1-1")
    directory = load_policy(settings.policy_dir).directory
    if role is KeyRole.supervisor and not unit:
        unit = directory.supervisor.id
    if unit is not None and directory.get(unit) is None:
        raise fail(f"单位目录中没有该单位：{unit}（可用 GET /units 查看单位目录）")
    if role is not KeyRole.admin:
        try:
            Actor(role=Role(role.value), id=actor_id, unit_id=unit)
        except ValidationError as err:
            problems = "；".join(input_problem(e) for e in err.errors(include_url=False))
            raise fail(f"操作人有误：{problems}（编号只能含字母、数字和 _ . : -，至多64个字符）") from err
    elif not actor_id:
        raise fail("--actor-id 不能为空")
    return actor_id, unit


@keys_app.command("issue")
def keys_issue(
    role: Annotated[KeyRole, typer.Option(help="channel 渠道、unit 单位人员、supervisor 督办、admin 管理员")],
    actor_id: Annotated[str, typer.Option(help="持有人编号；渠道密钥填渠道编号，如 hotline12345")],
    unit: Annotated[str | None, typer.Option(help="所属单位（unit 必填；supervisor 默认为目录中的督办单位）")] = None,
) -> None:
    """签发：为一个操作人生成新密钥，只显示这一次（库中只存其 SHA-256）。"""
    actor_id, unit = key_owner(role, actor_id, unit)
    key = auth.issue(key_engine(), role=role.value, actor_id=actor_id, unit_id=unit)
    typer.echo(key)
    who = f"{role.value} {actor_id}" + (f"（{unit}）" if unit else "")
    typer.echo(f"已为 {who} 签发密钥；请妥善保存，此后无法再次查看。用法：Authorization: Bearer <密钥>", err=True)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="要吊销的密钥")]) -> None:
    """吊销：此后该密钥的请求一律 401。"""
    if not auth.revoke(key_engine(), key.strip()):
        raise fail("没有该密钥，或已吊销", 1)
    typer.echo("已吊销")
