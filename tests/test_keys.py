"""`starter.py keys issue/revoke`: the admin's way to hand out and withdraw API keys."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

import starter
from api import auth, keys_cli
from config import Settings
from models.inputs import Role
from models.tables import ApiKey
from scripts import run
from store.db import engine_for

runner = CliRunner()


@pytest.fixture
def key_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    engine = engine_for(database_url)
    monkeypatch.setattr(keys_cli, "key_engine", lambda: engine)
    return engine


def issued_key(output: str) -> str:
    return output.strip().splitlines()[0]


def test_issue_then_revoke(key_db: Engine) -> None:
    result = runner.invoke(
        starter.app, ["keys", "issue", "--role", "unit", "--actor-id", "li-1", "--unit", "grid-a1-1"]
    )
    assert result.exit_code == 0, result.output
    key = issued_key(result.stdout)
    assert key.startswith("wk_")
    found = auth.lookup(key_db, key)
    assert found is not None
    role, actor = found
    assert role == "unit" and actor is not None
    assert (actor.role, actor.id, actor.unit_id) == (Role.unit, "li-1", "grid-a1-1")

    result = runner.invoke(starter.app, ["keys", "revoke", key])
    assert result.exit_code == 0, result.output
    assert auth.lookup(key_db, key) is None
    again = runner.invoke(starter.app, ["keys", "revoke", key])
    assert again.exit_code == 1 and "已吊销" in again.stderr


def test_channel_admin_and_supervisor_keys(key_db: Engine) -> None:
    channel = runner.invoke(starter.app, ["keys", "issue", "--role", "channel", "--actor-id", "app"])
    admin = runner.invoke(starter.app, ["keys", "issue", "--role", "admin", "--actor-id", "ops"])
    boss = runner.invoke(starter.app, ["keys", "issue", "--role", "supervisor", "--actor-id", "inspector-1"])
    for result in (channel, admin, boss):
        assert result.exit_code == 0, result.output
    assert auth.lookup(key_db, issued_key(admin.stdout)) == ("admin", None)
    found = auth.lookup(key_db, issued_key(channel.stdout))
    assert found is not None and found[1] is not None and (found[1].role, found[1].id) == (Role.channel, "app")
    found = auth.lookup(key_db, issued_key(boss.stdout))
    # Without --unit a supervisor acts for the directory's supervisor unit.
    assert found is not None and found[1] is not None and found[1].unit_id == "supervisor-12345"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "unit", "--actor-id", "li-1", "--unit", "grid-z9-9"], "单位目录中没有该单位"),
        (["--role", "supervisor", "--actor-id", "x", "--unit", "nowhere"], "单位目录中没有该单位"),
        (["--role", "unit", "--actor-id", "li-1"], "--unit"),
        (["--role", "channel", "--actor-id", "app", "--unit", "grid-a1-1"], "--unit"),
        (["--role", "channel", "--actor-id", "有空格 的编号"], "操作人有误：格式不正确"),
    ],
)
def test_bad_input_exits_2_and_issues_nothing(key_db: Engine, args: list[str], message: str) -> None:
    result = runner.invoke(starter.app, ["keys", "issue", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
    with Session(key_db) as session:
        assert session.exec(select(ApiKey)).all() == []


def test_make_run_starts_the_api_with_demo_keys_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_KEYS", raising=False)
    unset = Settings(_env_file=None)
    assert run.api_environment(unset, {"PATH": "/bin"}) == {"PATH": "/bin", "DEMO_KEYS": "1"}
    assert run.demo_keys_on(unset)

    monkeypatch.setenv("DEMO_KEYS", "0")
    told = Settings(_env_file=None)
    assert run.api_environment(told, {"DEMO_KEYS": "0"}) == {"DEMO_KEYS": "0"}
    assert not run.demo_keys_on(told)
    assert not unset.model_copy().demo_keys  # outside `make run` there are no default keys
