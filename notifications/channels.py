"""The channels a dispatcher sends through: policy/notifications.toml joined with the secrets from settings.

A channel whose secret settings lack fails here, at start, naming the setting, so nothing is queued for a
channel that could never send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config import Settings
from notifications.policy import (
    DingTalkChannel,
    NotificationPolicy,
    RateLimit,
    SmsChannel,
    WeComChannel,
    load_notification_policy,
)
from notifications.providers import Provider, Webhook
from notifications.robots import DingTalk, WeCom
from notifications.sms import Sms
from policy import load_policy
from store.db import engine_for
from store.vault import ReporterVault

WEBHOOK = "webhook"


class MissingSecret(ValueError):
    """A secret the notification policy names is not in settings; the message names the setting."""


def setting_name(secret: str) -> str:
    return f"NOTIFY_SECRETS__{secret.upper()}"


@dataclass
class Channels:
    policy: NotificationPolicy
    providers: dict[str, Provider]
    limits: dict[str, RateLimit] = field(default_factory=dict)
    webhook: bool = False
    supervisor_unit: str | None = None
    """the directory's supervisor (12345 centre) unit, reached as 'supervisor' is"""

    def route(self, recipient: str) -> list[tuple[str, str]]:
        """(channel, provider) for each channel a message to `recipient` goes to: its own (or the '*' ones),
        and the webhook if set."""
        names = self.policy.channels_for(recipient, self.supervisor_unit) + ([WEBHOOK] if self.webhook else [])
        return [(name, self.providers[name].kind) for name in names]


def build_channels(cfg: Settings, policy_dir: Path | None = None) -> Channels:
    policy = load_notification_policy(policy_dir or cfg.policy_dir)
    supervisor_unit = load_policy(policy_dir or cfg.policy_dir).directory.supervisor.id
    secrets = {name.lower(): value.get_secret_value() for name, value in cfg.notify_secrets.items()}
    missing = [
        f"policy/notifications.toml: channels.{name}.{key}: {setting_name(secret)} is not set "
        "(secrets come from settings, never from policy files)"
        for name, channel in policy.channels.items()
        for key, secret in channel.secrets().items()
        if not secrets.get(secret)
    ]
    if missing:
        raise MissingSecret("\n".join(missing))

    providers: dict[str, Provider] = {}
    limits: dict[str, RateLimit] = {}
    vault: ReporterVault | None = None
    for name, channel in policy.channels.items():
        if isinstance(channel, WeComChannel):
            providers[name] = WeCom(name, channel, secrets[channel.key])
        elif isinstance(channel, DingTalkChannel):
            providers[name] = DingTalk(name, channel, secrets[channel.token], secrets[channel.secret])
        elif isinstance(channel, SmsChannel):
            vault = vault or ReporterVault(engine_for(cfg.database_url), cfg.vault_key)
            providers[name] = Sms(name, channel, secrets[channel.credential], vault)
        if channel.rate_limit is not None:
            limits[name] = channel.rate_limit
    if cfg.webhook_url:
        providers[WEBHOOK] = Webhook(cfg.webhook_url, cfg.webhook_secret.get_secret_value())
    return Channels(
        policy=policy,
        providers=providers,
        limits=limits,
        webhook=bool(cfg.webhook_url),
        supervisor_unit=supervisor_unit,
    )
