"""`starter.py accounts ...`: console accounts, added and unlocked by an admin on the machine that holds the
read model (DATABASE_URL)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from config import settings
from console import accounts
from policy import load_policy
from store.db import engine_for

accounts_app = typer.Typer(help="工作台账号：新增、解锁（管理员操作，直接写读模型数据库）", no_args_is_help=True)


class AccountRole(StrEnum):
    unit = "unit"
    supervisor = "supervisor"
    channel = "channel"


def account_engine() -> Engine:
    """The read-model database the console checks logins against; tests replace this."""
    return engine_for(settings.database_url)


@accounts_app.command("add")
def add(
    username: Annotated[str, typer.Option(help="登录用户名，如 li-1")],
    role: Annotated[AccountRole, typer.Option(help="unit 单位人员、supervisor 督办、channel 受理渠道话务员")],
    name: Annotated[str, typer.Option(help="姓名或显示名")] = "",
    unit: Annotated[str | None, typer.Option(help="所属单位（unit 必填；supervisor 默认为目录中的督办单位）")] = None,
    channel: Annotated[str | None, typer.Option(help="受理渠道编号（channel 账号，默认同用户名）")] = None,
    password: Annotated[
        str | None, typer.Option(help="密码（省略则提示输入，不回显）；至少8个字符", show_default=False)
    ] = None,
) -> None:
    """新增：一个只属于一个单位（或督办单位、受理渠道）的工作台账号。"""
    if password is None:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    try:
        user = accounts.add(
            account_engine(),
            load_policy(settings.policy_dir),
            username=username,
            name=name,
            role=role.value,
            password=password,
            unit_id=(unit or "").strip() or None,
            channel_id=(channel or "").strip() or None,
        )
    except accounts.AccountError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    bound = user.unit_id or user.channel_id
    typer.echo(f"已新增账号 {user.username}（{user.role.value}，{bound}）：登录 /console/")


@accounts_app.command("unlock")
def unlock(username: Annotated[str, typer.Argument(help="被锁定的用户名")]) -> None:
    """解锁：清除连续登录失败的记录和锁定。"""
    if not accounts.unlock(account_engine(), username.strip()):
        typer.echo("没有该账号", err=True)
        raise typer.Exit(1)
    typer.echo("已解锁")
