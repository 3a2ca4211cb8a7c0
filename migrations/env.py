"""Alembic's entry: the read model's tables (`models.tables`) against DATABASE_URL.

The API, the worker and the tests call it with a connection of their own (`config.attributes["connection"]`);
`alembic` on the command line connects to DATABASE_URL, or to `-x url=...`.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from config import normalise_database_url, settings

config = context.config
target_metadata = SQLModel.metadata


def render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    """SQLModel's column types as the plain SQLAlchemy types they store as: migrations need no SQLModel."""
    if kind == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        # SQLite alters a table by copying it; Alembic's batch mode does that for every ALTER.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    url = normalise_database_url(context.get_x_argument(as_dictionary=True).get("url") or settings.database_url)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        with create_engine(url, poolclass=NullPool).connect() as conn:
            run(conn)
            conn.commit()
