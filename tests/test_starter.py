"""starter.py: the demo path end to end on the test server, the act error path, and input checks."""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from typing import Any

import pytest
import typer
from temporalio.client import Client
from typer.testing import CliRunner

import starter
from models.case import CaseView, Outcome, Status
from models.inputs import Actor, Role, WhistleAction
from models.timeline import EventKind
from scripts import demo
from services.intake import case_handle
from store.db import engine_for
from store.vault import ReporterVault
from temporal_client import ui_url
from tests.helpers import TASK_QUEUE, kinds, ready, server_now, start_case, supervisor, timeline, unit
from workflows.case import CaseWorkflow

NAME, PHONE = demo.DEMO_REPORTER


def payload_text(history_json: str) -> str:
    """The history as JSON plus every payload decoded: payload data is base64 in the JSON form."""
    decoded: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and "metadata" in node:
                decoded.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return history_json + "\n".join(decoded)


async def test_demo_closes_the_case_and_never_shows_the_reporter(
    client: Client, db_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    vault = ReporterVault(engine_for(db_url), "test-vault-key")

    case_id = await demo.run_demo(client, TASK_QUEUE, vault, now=await server_now(client))

    handle = case_handle(client, case_id)
    view = await handle.query(CaseWorkflow.view)
    assert view.status is Status.closed and view.outcome is Outcome.rated
    assert view.rating is not None and view.rating.level == "satisfied" and view.rating.solved
    counts = Counter(kinds(await timeline(handle)))
    expected = {
        EventKind.escalate: 2,
        EventKind.whistle: 1,
        EventKind.report: 2,
        EventKind.release: 2,
        EventKind.reply: 1,
        EventKind.rate: 1,
        EventKind.close: 1,
    }
    assert {k: counts[k] for k in expected} == expected

    # The vault has the reporter; the case only a reference and the masked phone.
    assert view.reporter.ref is not None and view.reporter.masked_phone == "138****8000"
    assert vault.reveal(view.reporter.ref) == (NAME, PHONE)
    histories = [await handle.fetch_history()]
    histories.append(await client.get_workflow_handle(view.whistles[0].workflow_id).fetch_history())
    for history in histories:
        text = payload_text(history.to_json())
        assert PHONE not in text and NAME not in text
    assert "138****8000" in payload_text(histories[0].to_json())  # the decoding above does read the payloads

    out = capsys.readouterr()
    printed = out.out + out.err + caplog.text
    assert case_id in out.out and "已销号" in out.out and "吹哨" in out.out
    assert ui_url(case_id) in out.out
    assert PHONE not in printed and NAME not in printed


async def test_act_by_a_unit_that_does_not_hold_the_case_exits_1_in_chinese(
    client: Client, ticket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    h = await start_case(client, ticket)
    await ready(h)
    intruder = Actor(role=Role.unit, id="staff-9", unit_id="grid-b1-1")

    with pytest.raises(typer.Exit) as exit_:
        await starter.act_case(client, h.id, *starter.build_action("sign", intruder, [], None, None), None)

    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err
    assert "只有当前承办单位" in err and "WrongActor" in err
    assert (await h.query(CaseWorkflow.view)).status is Status.dispatched


async def test_act_parses_fields_into_the_action_and_performs_it(
    client: Client, ticket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    h = await start_case(client, ticket)
    await ready(h)

    sign = starter.build_action("sign", unit("grid-a1-1"), [], None, None)
    view = await starter.act_case(client, h.id, *sign, None)
    assert isinstance(view, CaseView) and view.status is Status.handling
    escalate = starter.build_action("escalate", unit("grid-a1-1"), ["reason=网格无法处置"], None, None)
    view = await starter.act_case(client, h.id, *escalate, None)
    assert isinstance(view, CaseView) and view.holder == "comm-a1"
    assert "已完成：上报上一级（escalate）" in capsys.readouterr().out
    # a grid of another street, which the case does not carry: the command line gives the move its chain
    move = starter.build_action("redispatch", supervisor(), ["to_unit=grid-b2-1", "reason=位于黄化门社区"], None, None)
    view = await starter.act_case(client, h.id, *move, None)
    assert isinstance(view, CaseView) and view.holder == "grid-b2-1"


def test_act_with_a_missing_field_or_unknown_action_exits_2_without_a_server() -> None:
    runner = CliRunner()
    result = runner.invoke(starter.app, ["act", "case-x", "escalate", "--unit", "grid-a1-1"])
    assert result.exit_code == 2 and "reason：必填" in result.output
    result = runner.invoke(starter.app, ["act", "case-x", "fly", "--unit", "grid-a1-1"])
    assert result.exit_code == 2 and "未知操作：fly" in result.output
    result = runner.invoke(starter.app, ["act", "case-x", "rate-departments", "--whistle", "1", "--json", "{}"])
    assert result.exit_code == 2 and "ratings：必填" in result.output
    result = runner.invoke(starter.app, ["act", "case-x", "request-extension", "--field", "amount=abc"])
    assert result.exit_code == 2 and "amount：须为 JSON 对象" in result.output, result.output
    result = runner.invoke(starter.app, ["act", "case-x", "rate-departments", "--whistle", "1", "--json", "{bad"])
    assert result.exit_code == 2 and "JSON 格式错误：第1行第2列" in result.output, result.output


def test_fields_become_the_action_model_types() -> None:
    data = starter.parse_fields(
        WhistleAction, ["kind=hard", "departments=dept-enforcement, dept-housing", "reason=联合执法"], None
    )
    assert data["departments"] == ["dept-enforcement", "dept-housing"]
    action = WhistleAction.model_validate({**data, "actor": unit("street-a")})
    assert action.kind.value == "hard"
    assert starter.parse_fields(WhistleAction, ['departments=["dept-police"]'], '{"kind": "ordinary"}') == {
        "kind": "ordinary",
        "departments": ["dept-police"],
    }


def test_start_refuses_an_unknown_category_or_grid_without_a_server() -> None:
    base = ["start", "--channel", "hotline12345", "--ticket", "t-1", "--title", "垃圾", "--description", "门口垃圾"]
    runner = CliRunner()

    result = runner.invoke(
        starter.app, [*base, "--category", "flying_saucers", "--grid", "grid-a1-1", "--address", "x"]
    )
    assert result.exit_code == 2 and "未知的诉求类别：flying_saucers" in result.output

    result = runner.invoke(starter.app, [*base, "--category", "exposed_rubbish", "--grid", "grid-z9", "--address", "x"])
    assert result.exit_code == 2 and "未知的网格：grid-z9" in result.output

    result = runner.invoke(starter.app, [*base, "--category", "exposed_rubbish", "--grid", "grid-a1-1"])
    assert result.exit_code == 2 and "location.address：必填" in result.output


def test_wrong_arguments_are_told_in_chinese_with_exit_2() -> None:
    """What the command line's parser refuses reads as the rest of it does, not in click's English."""
    runner = CliRunner()
    for args, said in (
        (["act"], "缺少参数：case_id"),
        (
            ["keys", "issue", "--role", "nope", "--actor-id", "x"],
            "--role 的值无效：nope（可选：channel、unit、supervisor、admin）",
        ),
        (["act", "case-x", "sign", "--bogus"], "没有该选项：--bogus"),
        (["fly"], "没有该命令：fly（可选：start、act、show、demo、keys、accounts）"),
        (["act", "case-x", "sign", "--whistle", "abc"], "--whistle 的值无效：abc"),
        (["act", "case-x", "sign", "--unit"], "选项 --unit 须带一个值"),
        (["show", "case-x", "extra"], "多余的参数：extra"),
    ):
        result = runner.invoke(starter.app, args)
        assert result.exit_code == 2, (args, result.output)
        assert said in result.output and "--help" in result.output, (args, result.output)
        assert not any(w in result.output for w in ("Missing", "Invalid", "No such", "requires", "unexpected")), (
            args,
            result.output,
        )
    assert "Commands" in (help := runner.invoke(starter.app, ["keys"]).output) or "issue" in help  # help as before
    assert runner.invoke(starter.app, ["act", "--help"]).exit_code == 0
