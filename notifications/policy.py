"""policy/notifications.toml: which channel reaches which recipient, and how delivery retries.

Channels name their secrets (robot keys, signing secrets, gateway credentials); the secrets themselves come
from settings (`NOTIFY_SECRETS__<NAME>`), never from this file. A broken file fails at start with a
`PolicyError` naming the file and the field, as the case policy does.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from models.policy import Directory, Frozen
from policy import POLICY_DIR, PolicyError, load_policy

FILE = "notifications.toml"
REPORTER = "reporter"
SUPERVISOR = "supervisor"
ANY = "*"
ANONYMOUS = "reporter:anonymous"
SECRET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Delivery(Frozen):
    """How a message is retried; rate-limit answers do not count toward `max_attempts`."""

    max_attempts: int = Field(default=8, ge=1, description="failed attempts before a message is dead")
    first_delay_seconds: float = Field(default=5.0, gt=0)
    max_delay_seconds: float = Field(default=900.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    timeout_seconds: float = Field(default=10.0, gt=0, description="one HTTP request, connect to last byte")
    lease_seconds: float = Field(default=60.0, gt=0, description="a claim a dispatcher that died gives up")

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Delivery:
        if self.lease_seconds <= self.timeout_seconds:
            raise ValueError("lease_seconds: must be longer than timeout_seconds, or a slow send loses its claim")
        return self


class RateLimit(Frozen):
    messages: int = Field(gt=0)
    per_seconds: float = Field(gt=0)
    pause_seconds: float = Field(gt=0, description="how long the provider blocks a channel that went too fast")


class Channel(Frozen):
    recipients: tuple[str, ...] = Field(min_length=1, description="unit ids, 'supervisor', 'reporter' or '*'")
    msgtype: Literal["text", "markdown"] = "markdown"

    def secrets(self) -> dict[str, str]:
        """field name -> secret name, for every secret this channel needs."""
        return {}


def _secret_name(value: str) -> str:
    name = value.lower()
    if not SECRET_NAME.match(name):
        raise ValueError("a secret's name: letters, digits and _, starting with a letter (NOTIFY_SECRETS__<NAME>)")
    return name


class WeComChannel(Channel):
    """A WeCom (企业微信) group robot: POST {url}?key=<key>."""

    provider: Literal["wecom"]
    key: str = Field(description="name of the robot key in NOTIFY_SECRETS")
    url: str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    rate_limit: RateLimit = RateLimit(messages=20, per_seconds=60, pause_seconds=60)

    _key = field_validator("key")(_secret_name)

    def secrets(self) -> dict[str, str]:
        return {"key": self.key}


class DingTalkChannel(Channel):
    """A DingTalk (钉钉) custom robot with 加签: POST {url}?access_token=<token>&timestamp=..&sign=.."""

    provider: Literal["dingtalk"]
    token: str = Field(description="name of the access token in NOTIFY_SECRETS")
    secret: str = Field(description="name of the signing secret (SEC...) in NOTIFY_SECRETS")
    url: str = "https://oapi.dingtalk.com/robot/send"
    # DingTalk: 20 a minute per robot, and a robot that sends more is throttled for 10 minutes.
    rate_limit: RateLimit = RateLimit(messages=20, per_seconds=60, pause_seconds=600)

    _token = field_validator("token")(_secret_name)
    _secret = field_validator("secret")(_secret_name)

    def secrets(self) -> dict[str, str]:
        return {"token": self.token, "secret": self.secret}


class SmsChannel(Channel):
    """SMS through an HTTP gateway; the phone is looked up in the reporter vault at send time."""

    provider: Literal["sms"]
    url: str = Field(description="the gateway's send endpoint")
    credential: str = Field(description="name of the gateway's API token in NOTIFY_SECRETS")
    sign_name: str = Field(description="the registered SMS signature (短信签名)")
    msgtype: Literal["text", "markdown"] = "text"
    rate_limit: RateLimit | None = None

    _credential = field_validator("credential")(_secret_name)

    def secrets(self) -> dict[str, str]:
        return {"credential": self.credential}


AnyChannel = Annotated[WeComChannel | DingTalkChannel | SmsChannel, Field(discriminator="provider")]


class NotificationPolicy(Frozen):
    delivery: Delivery = Delivery()
    channels: dict[str, AnyChannel] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reporters_only_by_sms(self) -> NotificationPolicy:
        for name, channel in self.channels.items():
            if name == "webhook":
                raise ValueError("channels: 'webhook' is the generic webhook's own name (WEBHOOK_URL)")
            sms = isinstance(channel, SmsChannel)
            if sms and set(channel.recipients) != {REPORTER}:
                raise ValueError(f"channels.{name}: an SMS channel serves 'reporter' only (units are in groups)")
            if not sms and REPORTER in channel.recipients:
                raise ValueError(f"channels.{name}: the reporter is reached by SMS, never in a group robot")
        return self

    def check_recipients(self, directory: Directory) -> list[str]:
        """Recipients that are no unit of the directory (nor 'supervisor', 'reporter', '*')."""
        known = {u.id for u in directory.all_units()} | {SUPERVISOR, REPORTER, ANY}
        return [
            f"channels.{n}.recipients: unknown unit {r!r}"
            for n, c in self.channels.items()
            for r in c.recipients
            if r not in known
        ]

    def channels_for(self, recipient: str, supervisor_unit: str | None = None) -> list[str]:
        """The policy's channels for an outbox recipient: a unit id, 'supervisor', or 'reporter:<vault ref>'.

        The supervisor's own unit (`supervisor_unit`, the directory's 12345 centre, to whom a street's 退单 and
        延期 and a case in its queue are addressed) is the supervisor: a channel naming either serves both. A
        unit or the supervisor without a channel of its own gets the '*' channels; an anonymous reporter none.
        """
        if recipient.startswith(f"{REPORTER}:"):
            if recipient == ANONYMOUS:
                return []
            return [n for n, c in self.channels.items() if REPORTER in c.recipients]
        names = {recipient}
        if supervisor_unit is not None and recipient in (SUPERVISOR, supervisor_unit):
            names = {SUPERVISOR, supervisor_unit}
        own = [n for n, c in self.channels.items() if names.intersection(c.recipients)]
        return own or [n for n, c in self.channels.items() if ANY in c.recipients]


def load_notification_policy(directory: Path | None = None) -> NotificationPolicy:
    """`notifications.toml` in `directory` (default: the shipped policy); a missing file means no channels."""
    return _load((directory or POLICY_DIR).resolve())


@lru_cache(maxsize=8)
def _load(directory: Path) -> NotificationPolicy:
    label = f"{directory.name}/{FILE}"
    path = directory / FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise PolicyError(f"{label}: {e}") from e
    try:
        policy = NotificationPolicy.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{label}: {where}: {msg}" if where else f"{label}: {msg}")
        raise PolicyError("\n".join(lines)) from e
    unknown = policy.check_recipients(load_policy(directory).directory)
    if unknown:
        raise PolicyError("\n".join(f"{label}: {line}" for line in unknown))
    return policy
