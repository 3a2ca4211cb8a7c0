"""API keys: one key, one actor. Stored hashed; issued and revoked by an admin command."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.inputs import Actor, Role
from models.policy import Policy, Tier
from models.tables import ApiKey

ADMIN = "admin"
DEMO_CHANNELS = ("hotline12345", "app", "open311")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(engine: Engine, *, role: str, actor_id: str, unit_id: str | None = None, key: str | None = None) -> str:
    """Store a key for an actor; returns the key, which is shown once and never stored in clear."""
    if role not in {r.value for r in Role if r is not Role.system} | {ADMIN}:
        raise ValueError(f"role must be channel, unit, supervisor or admin, not {role!r}")
    if role in (Role.unit, Role.supervisor) and not unit_id:
        raise ValueError(f"a {role} key needs the unit it acts for")
    key = key or f"wk_{secrets.token_urlsafe(24)}"
    with Session(engine) as session:
        session.merge(
            ApiKey(
                key_hash=hash_key(key),
                role=role,
                actor_id=actor_id,
                unit_id=unit_id,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    return key


def revoke(engine: Engine, key: str) -> bool:
    with Session(engine) as session:
        row = session.get(ApiKey, hash_key(key))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
        return True


def lookup(engine: Engine, key: str) -> tuple[str, Actor | None] | None:
    """(role, actor) for a live key; admins have no case actor."""
    with Session(engine) as session:
        row = session.get(ApiKey, hash_key(key))
    if row is None or row.revoked_at is not None:
        return None
    if row.role == ADMIN:
        return ADMIN, None
    return row.role, Actor(role=Role(row.role), id=row.actor_id, unit_id=row.unit_id)


def _demo_actors(policy: Policy) -> list[tuple[str, str, str | None]]:
    actors: list[tuple[str, str, str | None]] = [(Role.channel, c, None) for c in DEMO_CHANNELS]
    actors += [(Role.unit, u.id, u.id) for u in policy.directory.units if u.tier is not Tier.district]
    supervisor = policy.directory.supervisor.id
    return [*actors, (Role.supervisor, supervisor, supervisor), (ADMIN, ADMIN, None)]


def seed_demo_keys(engine: Engine, policy: Policy) -> int:
    """`demo-<actor id>` for every channel, unit and the supervisor of the demo directory, and `demo-admin`."""
    with Session(engine) as session:
        known = set(session.exec(select(ApiKey.key_hash)).all())
    added = 0
    for role, actor_id, unit_id in _demo_actors(policy):
        key = f"demo-{actor_id}"
        if hash_key(key) not in known:
            issue(engine, role=role, actor_id=actor_id, unit_id=unit_id, key=key)
            added += 1
    return added


def remove_demo_keys(engine: Engine, policy: Policy) -> int:
    """Outside demo mode the well-known keys must not open a database a demo once ran on."""
    hashes = [hash_key(f"demo-{actor_id}") for _, actor_id, _ in _demo_actors(policy)]
    with Session(engine) as session:
        rows = session.exec(select(ApiKey).where(col(ApiKey.key_hash).in_(hashes))).all()
        for row in rows:
            session.delete(row)
        session.commit()
    return len(rows)
