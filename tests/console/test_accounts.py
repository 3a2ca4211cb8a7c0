"""Console accounts without a browser: adding them (the admin command), passwords, lock-out, the demo's
accounts, and the secret production must set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

import starter
from config import Settings
from console import accounts, cli
from models.inputs import Role
from models.tables import ConsoleAccount
from policy import load_policy
from store.db import engine_for

runner = CliRunner()
POLICY = load_policy()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    engine = engine_for(f"sqlite:///{tmp_path / 'accounts.db'}")
    monkeypatch.setattr(cli, "account_engine", lambda: engine)
    return engine


def test_the_admin_adds_an_account_with_a_prompted_password(db: Engine) -> None:
    args = ["accounts", "add", "--username", "li-1", "--role", "unit", "--unit", "grid-a1-1", "--name", "李明"]
    result = runner.invoke(starter.app, args, input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    user = accounts.authenticate(db, "li-1", "s3cret-pass").user
    assert user is not None and user.actor.model_dump() == {"role": Role.unit, "id": "li-1", "unit_id": "grid-a1-1"}
    with Session(db) as s:
        stored = s.exec(select(ConsoleAccount.password_hash)).one()
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    again = runner.invoke(starter.app, [*args, "--password", "another-pass"])
    assert again.exit_code == 2 and "用户名已存在" in again.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "unit", "--password", "short"], "密码至少8个字符"),
        (["--role", "unit", "--password", "long-enough"], "须指定所属单位"),
        (["--role", "unit", "--unit", "grid-zz", "--password", "long-enough"], "没有该单位"),
        (["--role", "unit", "--unit", "supervisor-12345", "--password", "long-enough"], "督办账号属于督办单位"),
        (["--role", "channel", "--unit", "grid-a1-1", "--password", "long-enough"], "渠道账号不属于任何单位"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(db: Engine, extra: list[str], message: str) -> None:
    result = runner.invoke(starter.app, ["accounts", "add", "--username", "x-1", *extra])
    assert result.exit_code == 2 and message in result.stderr, result.output
    with Session(db) as s:
        assert s.exec(select(ConsoleAccount)).all() == []


def test_supervisors_and_operators_act_as_the_engine_knows_them(db: Engine) -> None:
    boss = accounts.add(db, POLICY, username="wang", name="王", role="supervisor", password="long-enough")
    assert boss.actor.model_dump() == {"role": Role.supervisor, "id": "wang", "unit_id": "supervisor-12345"}
    operator = accounts.add(
        db, POLICY, username="op-7", name="话务员", role="channel", password="long-enough", channel_id="hotline12345"
    )
    assert operator.actor.model_dump() == {"role": Role.channel, "id": "hotline12345", "unit_id": None}


def test_lock_out_policy(db: Engine) -> None:
    accounts.add(db, POLICY, username="li-2", name="李", role="unit", password="right-password", unit_id="grid-a1-2")
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for i in range(accounts.MAX_FAILURES - 1):
        assert accounts.authenticate(db, "li-2", "wrong", now=t0 + timedelta(seconds=i)) == accounts.LoginResult()
    locked = accounts.authenticate(db, "li-2", "wrong", now=t0 + timedelta(minutes=1))
    assert locked.user is None and locked.locked_until == t0 + timedelta(minutes=1 + accounts.LOCK_MINUTES)
    during = t0 + timedelta(minutes=accounts.LOCK_MINUTES)
    assert accounts.authenticate(db, "li-2", "right-password", now=during).user is None
    after = t0 + timedelta(minutes=2 + accounts.LOCK_MINUTES)
    assert accounts.authenticate(db, "li-2", "right-password", now=after).user is not None
    # A success resets the count: four more failures do not lock.
    for i in range(accounts.MAX_FAILURES - 1):
        accounts.authenticate(db, "li-2", "wrong", now=after + timedelta(seconds=i))
    assert accounts.authenticate(db, "li-2", "right-password", now=after + timedelta(minutes=1)).user is not None
    assert accounts.authenticate(db, "nobody", "whatever") == accounts.LoginResult()


def test_unlock_and_logout(db: Engine) -> None:
    accounts.add(db, POLICY, username="li-3", name="李", role="unit", password="right-password", unit_id="grid-a1-1")
    for _ in range(accounts.MAX_FAILURES):
        accounts.authenticate(db, "li-3", "wrong")
    assert accounts.authenticate(db, "li-3", "right-password").user is None
    assert runner.invoke(starter.app, ["accounts", "unlock", "li-3"]).exit_code == 0
    assert accounts.authenticate(db, "li-3", "right-password").user is not None
    assert runner.invoke(starter.app, ["accounts", "unlock", "nobody"]).exit_code == 1

    began = datetime.now(UTC) - timedelta(minutes=1)
    assert accounts.load(db, "li-3", began) is not None
    accounts.end_sessions(db, "li-3")
    assert accounts.load(db, "li-3", began) is None
    assert accounts.load(db, "li-3", datetime.now(UTC) + timedelta(seconds=1)) is not None


def test_the_demo_seeds_one_account_per_unit_and_takes_them_back(db: Engine) -> None:
    accounts.add(db, POLICY, username="own-1", name="自建", role="unit", password="long-enough", unit_id="comm-a1")
    added = accounts.seed_demo(db, POLICY)
    assert added == len(POLICY.directory.units) + 2  # every unit, the supervisor and the 12345 operator
    assert accounts.seed_demo(db, POLICY) == 0
    for name in ("grid-a1-1", "dept-housing", "supervisor-12345", "hotline12345"):
        assert accounts.authenticate(db, name, accounts.DEMO_PASSWORD).user is not None
    assert accounts.remove_demo(db) == added
    assert accounts.authenticate(db, "grid-a1-1", accounts.DEMO_PASSWORD).user is None
    assert accounts.authenticate(db, "own-1", "long-enough").user is not None


def test_production_refuses_the_default_console_secret() -> None:
    key = "k7Fq2-Lm9Rt4Zx8Wc1Vb6Nh3Jd5Gs0Pe"
    with pytest.raises(ValidationError, match="CONSOLE_SECRET"):
        Settings(environment="production", vault_key=key)
    Settings(environment="production", vault_key=key, console_secret="a-real-secret")
