"""The read model's schema by Alembic: the migrations build exactly the tables the code declares, on SQLite and
PostgreSQL; the embedded SQLite file looks after itself; anything else behind the code is refused at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from config import ROOT
from store.db import SchemaError, alembic_config, check_schema, current_revision, engine_for, head_revision
from tests.postgres import PostgresServer

PYTHON = sys.executable


def run(args: list[str], database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DATABASE_URL": database_url, **env}
    return subprocess.run(args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def differences(url: str) -> list[object]:
    """What `alembic revision --autogenerate` would write: none when migrations and models agree."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_postgres_builds_the_declared_tables(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    done = run([str(Path(PYTHON).parent / "alembic"), "upgrade", "head"], url.replace("+psycopg", ""))
    assert done.returncode == 0, done.stderr
    assert f"-> {head_revision()}" in done.stderr
    assert differences(url) == []
    check_schema(create_engine(url))  # the API and the worker would start


def test_migrations_and_models_agree_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert differences(url) == []


def test_a_postgres_behind_the_code_is_refused_with_the_command_to_run(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    with pytest.raises(SchemaError, match="has no schema yet.*alembic upgrade head"):
        engine_for(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    with pytest.raises(SchemaError, match=r"is at migration 0001, this code needs .*alembic upgrade head"):
        check_schema(engine)


def test_api_and_worker_do_not_start_on_a_database_behind_the_code(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    worker = run([PYTHON, "worker.py"], url, TEMPORAL_ADDRESS="127.0.0.1:1")
    assert worker.returncode != 0
    assert "alembic upgrade head" in worker.stderr and "has no schema yet" in worker.stderr
    api = run([PYTHON, "-m", "uvicorn", "api.main:app", "--port", "0"], url, TEMPORAL_ADDRESS="127.0.0.1:1")
    assert api.returncode != 0
    assert "alembic upgrade head" in api.stderr and "Application startup failed" in api.stderr


def test_a_new_sqlite_file_is_created_at_the_newest_migration(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'new.db'}")
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert differences(str(engine.url)) == []


def test_a_sqlite_file_from_before_migrations_is_upgraded_in_place(tmp_path: Path) -> None:
    """`make run`'s data/cases.db made by create_all before there were migrations: stamped, then upgraded."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql(
            "INSERT INTO cases (case_id, channel, channel_ticket_id, category, title, grid_id, status, overdue,"
            " reported_at, reopen_count, whistled, last_seq) VALUES ('case-old', 'app', 't', 'exposed_rubbish',"
            " '旧诉求', 'grid-a1-1', 'handling', 0, '2026-11-01 00:00:00', 0, 0, 3)"
        )
    engine = engine_for(url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.exec_driver_sql("SELECT title, description FROM cases").all() == [("旧诉求", None)]
    assert "description" in {c["name"] for c in inspect(engine).get_columns("cases")}


def test_processes_starting_together_on_a_new_sqlite_file_all_find_it_ready(tmp_path: Path) -> None:
    """`make run` starts the worker and the API at once: one makes the file, the others wait for it."""
    url = f"sqlite:///{tmp_path / 'together.db'}"
    code = "from store.db import engine_for; engine_for(__import__('os').environ['DATABASE_URL'])"
    starts = [
        subprocess.Popen(
            [PYTHON, "-c", code], cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for start in starts:
        _, err = start.communicate(timeout=120)
        assert start.returncode == 0, err.decode()
    with create_engine(url).connect() as conn:
        assert current_revision(conn) == head_revision()


def test_0003_fills_who_a_case_involves_and_its_whistles_from_the_timeline(tmp_path: Path) -> None:
    """A read model of the older code (events as flat string dicts, the outbox delivered in the activity) is
    brought to head: access, whistle deadlines and the outbox carry on from what was recorded."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC).isoformat()
    events = [
        ("c1", 1, "dispatch", "grid-a1-1", '{"rule": "属地", "assisting": "dept-sanitation,dept-market"}', None),
        ("c1", 2, "whistle", "street-a", '{"n": "1", "kind": "hard", "departments": "dept-police,dept-hrss"}', None),
        ("c1", 3, "report", "dept-police", '{"whistle": "1"}', 1),
        ("c1", 4, "release", "dept-police", '{"whistle": "1"}', 1),
    ]
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
        for case_id, seq, kind, unit, data, met in events:
            conn.execute(
                text(
                    "INSERT INTO case_events (case_id, seq, at, kind, actor, unit_id, text, data, deadline_met)"
                    " VALUES (:c, :s, :at, :k, 'system', :u, '', :d, :m)"
                ),
                {"c": case_id, "s": seq, "at": at, "k": kind, "u": unit, "d": data, "m": met},
            )
        for seq, delivered in ((1, at), (2, None)):
            conn.execute(
                text(
                    "INSERT INTO notifications (case_id, seq, idx, recipient, text, created_at, delivered_at)"
                    " VALUES ('c1', :s, 0, 'grid-a1-1', 'x', :at, :d)"
                ),
                {"s": seq, "at": at, "d": delivered},
            )
        command.upgrade(alembic_config(conn), "head")
    with engine.connect() as conn:
        units = {r[0] for r in conn.execute(text("SELECT unit_id FROM case_units WHERE case_id = 'c1'"))}
        summons = conn.execute(
            text("SELECT unit_id, kind, checked_in_at, report_in_time, released_at FROM whistle_departments ORDER BY 1")
        ).all()
        routed = conn.execute(text("SELECT seq, routed_at FROM notifications ORDER BY seq")).all()
    assert units == {"grid-a1-1", "street-a", "dept-sanitation", "dept-market", "dept-police", "dept-hrss"}
    assert [
        (s.unit_id, s.kind, s.checked_in_at is not None, s.report_in_time, s.released_at is not None) for s in summons
    ] == [
        ("dept-hrss", "hard", False, None, False),
        ("dept-police", "hard", True, True, True),
    ]
    # What the old delivery had sent is not sent again; what it had not is left for the dispatcher.
    assert [(seq, r is not None) for seq, r in routed] == [(1, True), (2, False)]
    assert differences(url) == []


def test_0006_closes_the_whistles_of_cases_already_struck_off(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0005")
        for case_id, closed_at in (("withdrawn", at), ("running", None)):
            conn.execute(
                text(
                    "INSERT INTO cases (case_id, channel, channel_ticket_id, category, title, grid_id, status,"
                    " overdue, reported_at, reopen_count, whistled, last_seq, closed_at)"
                    " VALUES (:c, 'app', :c, 'x', 'x', 'grid-a1-1', 'x', 0, :at, 0, 1, 1, :closed)"
                ),
                {"c": case_id, "at": at, "closed": closed_at},
            )
            conn.execute(
                text(
                    "INSERT INTO whistle_departments (case_id, n, unit_id, kind, whistler, summoned_at, closed)"
                    " VALUES (:c, 1, 'dept-police', 'hard', 'street-a', :at, 0)"
                ),
                {"c": case_id, "at": at},
            )
        command.upgrade(alembic_config(conn), "head")
    with engine.connect() as conn:
        rows = {c: bool(closed) for c, closed in conn.execute(text("SELECT case_id, closed FROM whistle_departments"))}
    assert rows == {"withdrawn": True, "running": False}


def test_0007_records_a_report_limit_passed_unreported_as_not_in_time(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0006")
        for unit, reported in (("dept-police", None), ("dept-hrss", at), ("dept-market", None)):
            conn.execute(
                text(
                    "INSERT INTO whistle_departments (case_id, n, unit_id, kind, whistler, summoned_at, closed,"
                    " checked_in_at, report_in_time) VALUES ('c1', 1, :u, 'hard', 'street-a', :at, 0, :r, :t)"
                ),
                {"u": unit, "at": at, "r": reported, "t": None if reported is None else False},
            )
        # dept-police and dept-hrss (which reported late after it) missed their 报到; dept-market still has time.
        for seq, unit, data in (
            (1, "dept-police", '{"type": "whistle_step", "whistle": 1}'),
            (2, "dept-hrss", '{"whistle": "1"}'),
        ):
            conn.execute(
                text(
                    "INSERT INTO case_events (case_id, seq, at, kind, actor, unit_id, text, data, deadline_kind)"
                    " VALUES ('c1', :s, :at, 'overdue', 'system', :u, '', :d, 'report')"
                ),
                {"s": seq, "at": at, "u": unit, "d": data},
            )
        command.upgrade(alembic_config(conn), "head")
    with engine.connect() as conn:
        rows: dict[str, object] = dict(
            conn.execute(text("SELECT unit_id, report_in_time FROM whistle_departments")).all()
        )
    assert {u: None if t is None else bool(t) for u, t in rows.items()} == {
        "dept-police": False,
        "dept-hrss": False,
        "dept-market": None,
    }
