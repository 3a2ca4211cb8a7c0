"""Insert-or-ignore and upsert for SQLite and PostgreSQL, so a retried activity writes nothing twice.

Statements are built once and executed with parameters: building one per call (its ON CONFLICT clause and
cache key) cost several times the write itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine


def _insert(engine: Engine, table: Table) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_or_ignore(engine: Engine, table: Table, keys: Sequence[str]) -> Any:
    return _insert(engine, table).on_conflict_do_nothing(index_elements=list(keys))


def upsert_unless_older(engine: Engine, table: Table, key: str, version: str, columns: Sequence[str]) -> Any:
    """Insert, or update `columns` when the row's `version` is not newer than the one written."""
    stmt = _insert(engine, table)
    return stmt.on_conflict_do_update(
        index_elements=[key],
        set_={c: stmt.excluded[c] for c in (*columns, version)},
        where=table.c[version] <= stmt.excluded[version],
    )
