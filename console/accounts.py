"""Console accounts: who may log in, as which actor, and the lock-out after repeated failures.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile). Lock-out: after
`MAX_FAILURES` consecutive wrong passwords the account is locked for `LOCK_MINUTES`; a right password resets
the count. An unknown user name is answered exactly like a wrong password (and takes as long).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.inputs import Actor, Role
from models.policy import Policy, Tier
from models.tables import ConsoleAccount

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
DEMO_PASSWORD = "demo12345"
DEMO_CHANNEL = "hotline12345"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
ROLES = (Role.unit.value, Role.supervisor.value, Role.channel.value)

_hasher = PasswordHasher()
# Verified when the user name is unknown, so that a miss costs what a wrong password costs.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """An account that cannot be created as asked; the message is for people."""


@dataclass(frozen=True)
class User:
    """A logged-in person as the console sees them."""

    username: str
    name: str
    role: Role
    unit_id: str | None
    channel_id: str | None

    @property
    def actor(self) -> Actor:
        if self.role is Role.channel:
            # The workflow knows a channel by its id: the operator acts as the channel that takes the case.
            return Actor(role=Role.channel, id=self.channel_id or self.username)
        return Actor(role=self.role, id=self.username, unit_id=self.unit_id)

    @classmethod
    def of(cls, row: ConsoleAccount) -> User:
        return cls(row.username, row.name, Role(row.role), row.unit_id, row.channel_id)


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    locked_until: datetime | None = None


def _aware(at: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; they were stored in UTC.
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def authenticate(engine: Engine, username: str, password: str, *, now: datetime | None = None) -> LoginResult:
    """The user for a right password; for a wrong one, counts the failure and locks when there are too many."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        row = session.get(ConsoleAccount, username.strip())
        if row is None:
            _verify(_DUMMY_HASH, password)
            return LoginResult()
        locked = _aware(row.locked_until)
        if locked is not None and locked > now:
            _verify(_DUMMY_HASH, password)  # as long as any other refusal: the time tells nothing either
            return LoginResult(locked_until=locked)
        if not _verify(row.password_hash, password):
            row.failed_logins += 1
            until = now + timedelta(minutes=LOCK_MINUTES) if row.failed_logins >= MAX_FAILURES else None
            if until is not None:
                row.failed_logins, row.locked_until = 0, until
            session.add(row)
            session.commit()
            return LoginResult(locked_until=until)
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        row.failed_logins, row.locked_until, row.last_login_at = 0, None, now
        session.add(row)
        session.commit()
        return LoginResult(user=User.of(row))


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def load(engine: Engine, username: str, logged_in_at: datetime) -> User | None:
    """The user of a session, if the account still exists and was not logged out since the session began."""
    with Session(engine) as session:
        row = session.get(ConsoleAccount, username)
    if row is None:
        return None
    ended = _aware(row.sessions_valid_after)
    if ended is not None and logged_in_at <= ended:
        return None
    return User.of(row)


def names(session: Session, usernames: set[str]) -> dict[str, str]:
    """The names of those of `usernames` that are console accounts (a caller of the API by key is none)."""
    rows = session.exec(
        select(ConsoleAccount.username, ConsoleAccount.name).where(col(ConsoleAccount.username).in_(usernames))
    )
    return dict(rows.all())


def end_sessions(engine: Engine, username: str, *, now: datetime | None = None) -> None:
    """Logout: every session of this account begun until now is over (a copied cookie included)."""
    with Session(engine) as session:
        row = session.get(ConsoleAccount, username)
        if row is not None:
            row.sessions_valid_after = now or datetime.now(UTC)
            session.add(row)
            session.commit()


def add(
    engine: Engine,
    policy: Policy,
    *,
    username: str,
    name: str,
    role: str,
    password: str,
    unit_id: str | None = None,
    channel_id: str | None = None,
) -> User:
    """A new account; refuses a taken user name, a short password, or a unit the directory does not have."""
    username, name = username.strip(), name.strip()
    if not USERNAME.match(username):
        raise AccountError("用户名只能含字母、数字和 _ . : -，以字母或数字开头，至多64个字符")
    if role not in ROLES:
        raise AccountError(f"角色须为 unit、supervisor 或 channel，而不是 {role}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少{MIN_PASSWORD}个字符")
    directory = policy.directory
    if role == Role.supervisor:
        unit_id = unit_id or directory.supervisor.id
    if role == Role.channel:
        if unit_id:
            raise AccountError("渠道账号不属于任何单位：请去掉单位")
        channel_id = channel_id or username
        if not USERNAME.match(channel_id):
            raise AccountError("渠道编号只能含字母、数字和 _ . : -")
    elif channel_id:
        raise AccountError("只有渠道账号可以指定渠道")
    elif not unit_id:
        raise AccountError("单位人员账号须指定所属单位，如 grid-a1-1")
    else:
        unit = directory.get(unit_id)
        if unit is None or (unit.tier is Tier.district and unit.id != directory.supervisor.id):
            raise AccountError(f"单位目录中没有该单位：{unit_id}")
        if (role == Role.supervisor) != (unit.id == directory.supervisor.id):
            raise AccountError("督办账号属于督办单位，单位人员账号属于其他单位")
    user = User(username, name or username, Role(role), unit_id, channel_id)
    row = ConsoleAccount(
        username=username,
        name=user.name,
        role=role,
        unit_id=unit_id,
        channel_id=channel_id,
        password_hash=_hasher.hash(password),
        created_at=datetime.now(UTC),
    )
    with Session(engine) as session:
        if session.get(ConsoleAccount, username) is not None:
            raise AccountError(f"用户名已存在：{username}")
        session.add(row)
        session.commit()
    return user


def unlock(engine: Engine, username: str) -> bool:
    with Session(engine) as session:
        row = session.get(ConsoleAccount, username)
        if row is None:
            return False
        row.failed_logins, row.locked_until = 0, None
        session.add(row)
        session.commit()
        return True


def _demo_accounts(policy: Policy) -> list[ConsoleAccount]:
    """One account per unit of the demo directory (user name = unit id), the supervisor and the 12345 operator."""
    now = datetime.now(UTC)
    d = policy.directory
    rows = [
        ConsoleAccount(username=u.id, name=u.name, role=Role.unit.value, unit_id=u.id, password_hash="", created_at=now)
        for u in d.units
        if u.tier is not Tier.district
    ]
    rows.append(
        ConsoleAccount(
            username=d.supervisor.id,
            name=d.supervisor.name,
            role=Role.supervisor.value,
            unit_id=d.supervisor.id,
            password_hash="",
            created_at=now,
        )
    )
    rows.append(
        ConsoleAccount(
            username=DEMO_CHANNEL,
            name="12345热线话务员",
            role=Role.channel.value,
            channel_id=DEMO_CHANNEL,
            password_hash="",
            created_at=now,
        )
    )
    return rows


def seed_demo(engine: Engine, policy: Policy) -> int:
    """The demo's accounts, all with `DEMO_PASSWORD`; existing accounts are left as they are."""
    with Session(engine) as session:
        known = set(session.exec(select(ConsoleAccount.username)).all())
        missing = [a for a in _demo_accounts(policy) if a.username not in known]
        if missing:
            hashed = _hasher.hash(DEMO_PASSWORD)  # one hash for all: hashing is deliberately slow
            for a in missing:
                a.password_hash, a.demo = hashed, True
                session.add(a)
            session.commit()
    return len(missing)


def remove_demo(engine: Engine) -> int:
    """Outside demo mode the well-known password must not open a database a demo once ran on."""
    with Session(engine) as session:
        rows = session.exec(select(ConsoleAccount).where(col(ConsoleAccount.demo).is_(True))).all()
        for row in rows:
            session.delete(row)
        session.commit()
    return len(rows)
