"""The command line of a channel or an operator: start a case, act on it, show it, or run the demo path.

`demo` drives one case from 受理 to 销号 against the server `make run` starts; it never starts a worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import typing
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, TemporalError
from temporalio.service import RPCError, RPCStatusCode

from api.keys_cli import keys_app
from cli_usage import ChineseUsage
from config import settings
from console.cli import accounts_app
from models import inputs as m
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from models.case import CaseView, ClosureRecord
from models.errors import input_problem
from models.inputs import Actor, Role
from models.intake import Intake
from models.whistle import WhistleView, whistle_workflow_id
from policy import load_policy
from scripts.terminal import local, print_deadlines, print_timeline
from services import intake as cases
from services.actions import NotTaken, perform
from services.intake import IntakeError, case_handle, check_intake, open_case, wait_ready
from store.db import engine_for
from store.vault import ReporterVault
from temporal_client import connect, not_now, ui_url
from workflows.case import CaseWorkflow

app = typer.Typer(
    cls=ChineseUsage, help="吹哨报到工单命令行：受理、操作、查看、演示", no_args_is_help=True, add_completion=False
)
POLL = 0.2
T = TypeVar("T")
CaseHandle = WorkflowHandle[CaseWorkflow, ClosureRecord]


class ActorRole(StrEnum):
    channel = "channel"
    unit = "unit"
    supervisor = "supervisor"


def run(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> None:
    """The one bridge from a typer command to asyncio: connect, then `await fn(client, *args, **kwargs)`."""

    async def main() -> None:
        try:
            client = await connect()
        except RuntimeError as err:
            raise fail(f"无法连接 Temporal（{settings.temporal_address}）：请先运行 make run", 1) from err
        try:
            await fn(client, *args, **kwargs)
        except WorkflowUpdateFailedError as err:
            raise refused(err) from err

    asyncio.run(main())


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a message for the person at the terminal and give the exit to raise."""
    print(message, file=sys.stderr)
    return typer.Exit(code)


def refused(err: WorkflowUpdateFailedError) -> typer.Exit:
    """The workflow's Chinese refusal and its code (the ApplicationError type), exit code 1."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return fail(f"操作被拒绝：{cause.message}（代码：{cause.type}）", 1)
    return fail(f"操作失败：{cause}（代码：{type(cause).__name__}）", 1)


def explain(err: ValidationError) -> str:
    return "；".join(
        f"{'.'.join(map(str, e['loc'])) or '输入'}：{input_problem(e)}" for e in err.errors(include_url=False)
    )


# ------------------------------------------------------------------------------------------ talking to Temporal
async def poll(fetch: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str, timeout: float = 30) -> T:
    """Query until `ok`; a workflow whose first task has not run yet may fail a query, which is retried."""
    until = time.monotonic() + timeout
    while True:
        try:
            if ok(value := await fetch()):
                return value
        except (WorkflowQueryFailedError, RPCError):
            pass
        if time.monotonic() > until:
            raise fail(f"等待{what}超时：请确认 worker 正在运行（make run）", 1)
        await asyncio.sleep(POLL)


async def send(handle: WorkflowHandle[Any, Any], name: str, action: m.Action, result: type[T], tries: int = 100) -> T:
    """One update, carrying the chains of the units it names (`with_units`); "NotReady" (the case or whistle is
    still opening) is retried after a short sleep."""
    action = m.with_units(action, load_policy(settings.policy_dir).directory)
    for _ in range(tries - 1):
        try:
            value: T = await handle.execute_update(name, action, result_type=result)
            return value
        except WorkflowUpdateFailedError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == "NotReady"):
                raise
        await asyncio.sleep(POLL)
    last: T = await handle.execute_update(name, action, result_type=result)
    return last


async def ready(handle: CaseHandle, timeout: float = 30) -> CaseView:
    try:
        return await wait_ready(handle, timeout)
    except TimeoutError as err:
        raise fail("等待受理派单超时：请确认 worker 正在运行", 1) from err


# ------------------------------------------------------------------------------------------ start
def parse_intake(data: dict[str, Any]) -> tuple[Intake, tuple[str, str] | None]:
    """An Intake-shaped dict whose reporter has name/phone; checked against the policy before anything starts."""
    who = data.get("reporter") or {}
    if set(who) - {"name", "phone", "confidential"}:
        raise fail("reporter 只接受 name、phone、confidential：诉求人信息由本程序存入加密库")
    name, phone = (who.get("name") or "").strip(), (who.get("phone") or "").strip()
    if name and not phone:
        raise fail("提供诉求人姓名时须同时提供电话")
    data = {"reported_at": datetime.now(UTC), **data, "reporter": {"confidential": bool(who.get("confidential"))}}
    try:
        intake = Intake.model_validate(data)
    except ValidationError as err:
        raise fail(f"受理信息有误：{explain(err)}") from err
    try:
        check_intake(intake, load_policy(settings.policy_dir))
    except IntakeError as err:
        raise fail(err.message) from err
    return intake, ((name, phone) if phone else None)


def default_vault() -> ReporterVault:
    return ReporterVault(engine_for(settings.database_url), settings.vault_key)


async def start_case(client: Client, intake: Intake, reporter: tuple[str, str] | None) -> None:
    try:
        opened = await open_case(
            client, settings.task_queue, intake, default_vault(), reporter, policy=load_policy(settings.policy_dir)
        )
    except IntakeError as err:
        raise fail(err.message) from err
    handle = opened.handle
    print(f"{'该工单已受理过（同一渠道同一工单只受理一次）' if opened.existed else '已受理'}，诉求编号：{handle.id}")
    view = opened.view if opened.view and opened.view.recorded_seq else await ready(handle, timeout=15)
    print(f"状态：{view.status_label}  承办：{view.holder or '—'}")
    print_deadlines(view.deadlines)
    print(ui_url(handle.id))


@app.command()
def start(
    channel: Annotated[str | None, typer.Option(help="渠道编号，如 hotline12345")] = None,
    ticket: Annotated[str | None, typer.Option(help="渠道自己的工单号")] = None,
    category: Annotated[str | None, typer.Option(help="诉求类别，如 exposed_rubbish")] = None,
    title: Annotated[str | None, typer.Option(help="标题")] = None,
    description: Annotated[str | None, typer.Option(help="诉求内容")] = None,
    grid: Annotated[str | None, typer.Option(help="网格编号，如 grid-a1-1")] = None,
    address: Annotated[str | None, typer.Option(help="地址")] = None,
    urgency: Annotated[str | None, typer.Option(help="emergency/time_sensitive/general/complex")] = None,
    reporter_name: Annotated[str | None, typer.Option(help="诉求人姓名（只存入加密库）")] = None,
    reporter_phone: Annotated[str | None, typer.Option(help="诉求人电话（只存入加密库）")] = None,
    confidential: Annotated[bool, typer.Option("--confidential", help="诉求人要求保密")] = False,
    attachment: Annotated[list[str] | None, typer.Option(help="附件链接，可重复")] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Intake 形式的 JSON 文件（reporter 含 name/phone）")
    ] = None,
) -> None:
    """受理：开始一件诉求（选项覆盖 JSON 文件中的同名项）。"""
    try:
        data: dict[str, Any] = json.loads(json_file.read_text(encoding="utf-8")) if json_file else {}
    except (OSError, json.JSONDecodeError) as err:
        raise fail(f"无法读取 JSON 文件：{err}") from err

    def merge(base: dict[str, Any], **given: Any) -> dict[str, Any]:
        return {**base, **{k: v for k, v in given.items() if v is not None}}

    data = merge(data, channel=channel, channel_ticket_id=ticket, category=category, title=title,
                 description=description, urgency=urgency, attachments=attachment or None)  # fmt: skip
    data["location"] = merge(data.get("location") or {}, grid_id=grid, address=address)
    data["reporter"] = merge(data.get("reporter") or {}, name=reporter_name, phone=reporter_phone,
                             confidential=confidential or None)  # fmt: skip
    run(start_case, *parse_intake(data))


# ------------------------------------------------------------------------------------------ act
Spec = ActionSpec[m.Action]


def parse_fields(model: type[m.Action], pairs: list[str], raw: str | None) -> dict[str, Any]:
    """`--json` first, then each `--field key=value`; a list field splits on commas, `[`/`{` values are JSON."""
    try:
        data: dict[str, Any] = json.loads(raw) if raw else {}
        for pair in pairs:
            key, sep, value = (s.strip() for s in pair.partition("="))
            if not sep:
                raise fail(f"--field 须为 key=value 形式：{pair}")
            field = model.model_fields.get(key)
            if value.startswith(("[", "{")):
                data[key] = json.loads(value)
            elif field is not None and typing.get_origin(field.annotation) is list:
                data[key] = [v.strip() for v in value.split(",") if v.strip()]
            else:
                data[key] = value
    except json.JSONDecodeError as err:
        raise fail(f"JSON 格式错误：第{err.lineno}行第{err.colno}列") from err
    return data


def build_action(
    action: str, actor: Actor, fields: list[str], raw: str | None, whistle: int | None
) -> tuple[Spec, m.Action]:
    """The action's registry entry and its validated Action model, from the command line's words."""
    table = {s.name.value: s for s in (WHISTLE_ACTIONS if whistle else CASE_ACTIONS)}
    spec = table.get(action)
    if spec is None:
        raise fail(f"未知操作：{action}（可选：{'、'.join(table)}{'' if whistle else '；吹哨操作须加 --whistle N'}）")
    try:
        payload = spec.model.model_validate({**parse_fields(spec.model, fields, raw), "actor": actor})
    except ValidationError as err:
        raise fail(f"参数有误：{explain(err)}") from err
    return spec, m.with_units(payload, load_policy(settings.policy_dir).directory)


async def act_case(
    client: Client,
    case_id: str,
    spec: Spec,
    payload: m.Action,
    whistle: int | None,
    *,
    request_id: str | None = None,
    wait: float | None = None,
) -> BaseModel | None:
    """Send the action as its update to the case (or its whistle N) and print the outcome. `request_id`: the same
    request, sent again (it joins the first); `wait`: seconds, for the case to take it (`ACTION_WAIT_SECONDS`)."""
    handle = client.get_workflow_handle(whistle_workflow_id(case_id, whistle) if whistle else case_id)
    key, request_id = spec.name.value, request_id or uuid.uuid4().hex
    # The action as the operator reads it (上报上一级), with the word they typed (escalate).
    done = f"{spec.summary.split('（')[0].split('：')[0]}（{key}）"
    try:
        wait = wait or settings.action_wait_seconds
        view = await perform(handle, spec, payload, payload.model_dump_json(), request_id, wait)
    except NotTaken as err:
        again_with = f"必要时加 --request-id {request_id} 重发（不会重复办理）"
        raise fail(f"服务繁忙，操作未能及时完成：请稍后用 show 查看诉求状态，{again_with}", 1) from err
    except WorkflowUpdateFailedError as err:
        raise refused(err) from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise fail(f"找不到进行中的{'吹哨' if whistle else '诉求'}：{handle.id}（不存在或已结束）", 1) from err
        raise
    if view is None:
        print(f"已受理：{done}，正在办理；稍后用 show 查看结果")
        return None
    if isinstance(view, CaseView):
        print(f"已完成：{done}。状态：{view.status_label}  承办：{view.holder or '—'}")
    elif isinstance(view, WhistleView):
        released = sum(d.released_at is not None for d in view.departments)
        state = "已完结" if view.done else "进行中"
        print(f"已完成：{done}。吹哨 #{whistle}：已撤离 {released}/{len(view.departments)}，{state}")
    return view


@app.command()
def act(
    case_id: str,
    action: Annotated[str, typer.Argument(help="sign、return、escalate、whistle、reply、rate…；吹哨：report 等")],
    role: Annotated[ActorRole, typer.Option(help="操作人角色")] = ActorRole.unit,
    actor_id: Annotated[str, typer.Option(help="操作人编号；渠道角色填渠道编号")] = "staff-1",
    unit: Annotated[str | None, typer.Option(help="操作人所属单位，如 grid-a1-1")] = None,
    field: Annotated[list[str] | None, typer.Option(help="操作字段 key=value，可重复")] = None,
    raw: Annotated[str | None, typer.Option("--json", help="操作字段 JSON")] = None,
    whistle: Annotated[int | None, typer.Option(help="吹哨序号 N（报到、对接、撤离、评价部门）")] = None,
    request_id: Annotated[str | None, typer.Option(help="重发未及时完成的同一操作时，填上次给出的编号")] = None,
) -> None:
    """办理：对诉求或其吹哨执行一个操作。"""
    try:
        actor = Actor(role=Role(role.value), id=actor_id, unit_id=unit)
    except ValidationError as err:
        raise fail(f"操作人有误：{explain(err)}") from err
    run(act_case, case_id, *build_action(action, actor, field or [], raw, whistle), whistle, request_id=request_id)


# ------------------------------------------------------------------------------------------ show
async def show_case(client: Client, case_id: str) -> None:
    handle = case_handle(client, case_id)
    try:
        async with cases.within_query_time():  # both answers in the one read's time
            view = await handle.query(CaseWorkflow.view, rpc_timeout=cases.QUERY_TIMEOUT)
            events = await handle.query(CaseWorkflow.events, rpc_timeout=cases.QUERY_TIMEOUT)
    except (TemporalError, TimeoutError) as err:  # an RPC error, or the query out of time
        if isinstance(err, RPCError) and not not_now(err):
            raise fail(f"找不到诉求：{case_id}", 1) from err
        raise fail("没有工作进程应答，暂时无法读取诉求当前状态，请稍后重试", 1) from err
    print(f"{view.case_id}  “{view.title}”  状态：{view.status_label}  承办：{view.holder or '—'}")
    if view.outcome and view.closed_at:
        print(f"结果：{view.outcome.value}  销号时间：{local(view.closed_at)}")
    print("时限：")
    print_deadlines(view.deadlines)
    print("时间线：")
    print_timeline(events)
    print(ui_url(case_id))


@app.command()
def show(case_id: str) -> None:
    """查看：状态、承办单位、时限与时间线。"""
    run(show_case, case_id)


# ------------------------------------------------------------------------------------------ keys, accounts
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")


# ------------------------------------------------------------------------------------------ demo
@app.command()
def demo() -> None:
    """演示：一件违法建设诉求从受理、上报、吹哨报到到销号（需先运行 make run）。"""
    from scripts.demo import run_demo  # the story uses this module's helpers

    run(run_demo, settings.task_queue, default_vault())


if __name__ == "__main__":
    try:
        app()
    except SystemExit as done:
        # temporalio/sdk-python#300: the core's threads may abort a finalizing interpreter (exit 134); skip teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(done.code if isinstance(done.code, int) else 0 if done.code is None else 1)
