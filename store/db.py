"""The read-model database: SQLite by default, PostgreSQL through DATABASE_URL; its schema by Alembic.

The embedded SQLite default looks after itself: a new file gets the tables and is stamped at the newest
migration, an older one is upgraded. Any other database is migrated by its operator (`alembic upgrade head`),
and the API and the worker refuse to start on one whose schema is behind the code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel, create_engine

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from config import ROOT, normalise_database_url

log = structlog.get_logger(__name__)
UPGRADE_COMMAND = ".venv/bin/alembic upgrade head"
# The revision whose schema equals the tables as they were before migrations existed (created by create_all).
FIRST_REVISION = "0001"
CONNECT_TIMEOUT_SECONDS = 5


class SchemaError(RuntimeError):
    """The database's schema does not match the code; the message says what to run."""


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions is empty"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@lru_cache
def engine_for(url: str) -> Engine:
    """The engine for `url`, its schema prepared (SQLite) or checked (anything else)."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        eng = _sqlite_engine(url)
        _prepare_sqlite(eng)
    else:
        # pool_pre_ping: a connection the server dropped (restart, failover) is replaced before use.
        eng = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
        check_schema(eng)
    return eng


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(eng, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        # WAL lets the API read while the worker writes.
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return eng


def _prepare_sqlite(engine: Engine) -> None:
    with engine.connect() as conn:
        # The worker and the API start together on a new file: the first takes the write lock, the other
        # waits for it and finds the tables made.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        _prepare_sqlite_locked(conn)
        conn.commit()


def _prepare_sqlite_locked(conn: Connection) -> None:
    tables = set(inspect(conn).get_table_names())
    if not tables:
        SQLModel.metadata.create_all(conn)
        command.stamp(alembic_config(conn), "head")
        return
    if "alembic_version" not in tables or current_revision(conn) is None:
        # A file made by create_all before there were migrations: its tables are the first revision's.
        command.stamp(alembic_config(conn), FIRST_REVISION)
    command.upgrade(alembic_config(conn), "head")


def check_schema(engine: Engine) -> None:
    """Refuse a database whose schema is behind the code (or missing), naming the command that fixes it."""
    head = head_revision()
    with engine.connect() as conn:
        current = current_revision(conn)
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)  # for messages and logs
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is None or current in known:
        state = "has no schema yet" if current is None else f"is at migration {current}"
        raise SchemaError(
            f"the database {where} {state}, this code needs {head}: run `{UPGRADE_COMMAND}` "
            "with the same DATABASE_URL, then start again"
        )
    # A migration this code does not know: a newer release migrated it (a rolling upgrade). Its additions
    # are unknown to this code, which goes on with the tables it knows.
    log.warning("database_schema_newer", database=where, revision=current, code_head=head)


def upgrade_database(url: str) -> None:
    """`alembic upgrade head` on `url`, as the operator runs it (the tests migrate their databases with it)."""
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
