"""Load `policy/*.toml` into one validated `models.policy.Policy`.

limits.toml and categories.toml give top-level fields (version, limits, whistle, supervision, rating;
categories); calendar.toml and directory.toml are the whole `calendar` and `directory`. A broken file fails at
start with a `PolicyError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from models.policy import Policy

POLICY_DIR = Path(__file__).resolve().parent
FILES = ("limits.toml", "calendar.toml", "categories.toml", "directory.toml")
_WHOLE_FILE = {"calendar.toml": "calendar", "directory.toml": "directory"}
_HOME = {"calendar": "calendar.toml", "directory": "directory.toml", "categories": "categories.toml"}


class PolicyError(ValueError):
    """A policy file is missing, unreadable or invalid; the message names the file and the field."""


def load_policy(directory: Path | None = None) -> Policy:
    """The policy in `directory` (default: this package), cached per resolved path.

    `Policy.version` becomes "<file version>+<sha256 of the files, 8 hex>", so two deployments with the same
    version string but edited files are told apart in workflow histories.
    """
    return _load((directory or POLICY_DIR).resolve())


def clear_policy_cache() -> None:
    """Forget loaded policies, e.g. after editing the files in a running process."""
    _load.cache_clear()


def policy_fingerprint(directory: Path | None = None) -> str:
    """Short sha256 of the policy files, the part after "+" in a loaded `Policy.version`."""
    base = directory or POLICY_DIR
    return _digest({name: (base / name).read_bytes() for name in FILES})


def _digest(raw: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + raw[name] + b"\0")
    return digest.hexdigest()[:8]


@lru_cache(maxsize=8)
def _load(directory: Path) -> Policy:
    raw: dict[str, bytes] = {}
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name in FILES:
        label = _label(directory, name)
        try:
            raw[name] = (directory / name).read_bytes()
            content = tomllib.loads(raw[name].decode("utf-8"))
        except OSError as e:
            raise PolicyError(f"{label}: cannot read: {e.strerror}") from e
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise PolicyError(f"{label}: {e}") from e
        if name in _WHOLE_FILE:
            content = {_WHOLE_FILE[name]: content}
        for key, value in content.items():
            if key in data:
                raise PolicyError(f"{label}: {key}: already set in {_label(directory, origin[key])}")
            data[key] = value
            origin[key] = name

    if isinstance(data.get("version"), str):
        data["version"] = f"{data['version']}+{_digest(raw)}"
    try:
        policy = Policy.model_validate(data)
    except ValidationError as e:
        lines = [_describe(err, directory, origin) for err in e.errors(include_url=False)]
        raise PolicyError("\n".join(lines)) from e

    # pydantic takes any string; an unknown zone would only fail later, inside a workflow
    try:
        ZoneInfo(policy.calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        label = _label(directory, "calendar.toml")
        raise PolicyError(f"{label}: timezone: unknown time zone {policy.calendar.timezone!r}") from e
    return policy


def _label(directory: Path, name: str) -> str:
    return f"{directory.name}/{name}"


def _describe(err: ErrorDetails, directory: Path, origin: dict[str, str]) -> str:
    loc = list(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    # Policy's own cross-file checks carry no location; their message starts with the field they are about
    key = str(loc[0]) if loc else msg.split(":", 1)[0]
    name = origin.get(key) or _HOME.get(key, "limits.toml")
    if name in _WHOLE_FILE and loc:
        loc = loc[1:]
    path = "".join(_segment(part) for part in loc).lstrip(".")
    return f"{_label(directory, name)}: {path}: {msg}" if path else f"{_label(directory, name)}: {msg}"


def _segment(part: int | str) -> str:
    # list indexes and pydantic's "[key]" (an invalid dict key) read best glued to the field before them
    if isinstance(part, int):
        return f"[{part}]"
    return part if part == "[key]" else f".{part}"
