"""policy/notifications.toml: validated at start, routes per recipient, secrets only from settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from config import ROOT, Settings
from notifications.channels import MissingSecret, build_channels
from notifications.policy import load_notification_policy
from policy import POLICY_DIR, PolicyError
from tests.notifications.conftest import policy_dir

EXAMPLE = (POLICY_DIR / "notifications.example.toml").read_text(encoding="utf-8")
EXAMPLE_SECRETS = [
    "wecom_comm_a1",
    "wecom_comm_a2",
    "wecom_district",
    "dingtalk_supervisor_token",
    "dingtalk_supervisor_secret",
    "sms_gateway_token",
]


def test_the_shipped_policy_has_no_channels_and_starts_without_secrets(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    channels = build_channels(Settings(webhook_url=None, database_url=db))
    assert channels.policy.channels == {} and channels.policy.delivery.max_attempts == 8
    assert channels.route("grid-a1-1") == [] and channels.route("reporter:rep-1") == []
    with_hook = build_channels(Settings(webhook_url="http://127.0.0.1:9/hook", database_url=db))
    assert with_hook.route("grid-a1-1") == [("webhook", "webhook")]


def test_the_example_routes_each_recipient_to_its_channel(tmp_path: Path) -> None:
    cfg = Settings(
        policy_dir=policy_dir(tmp_path, EXAMPLE),
        notify_secrets={name: SecretStr(f"s-{name}") for name in EXAMPLE_SECRETS},
        webhook_url=None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
    )
    channels = build_channels(cfg)
    assert channels.route("grid-a1-2") == [("wecom-comm-a1", "wecom")]
    assert channels.route("dept-police") == channels.route("street-a") == [("wecom-district", "wecom")]
    assert channels.route("supervisor") == [("dingtalk-supervisor", "dingtalk")]
    assert channels.route("reporter:rep-1") == [("sms", "sms")]
    assert channels.route("reporter:anonymous") == []
    assert (
        channels.limits["wecom-comm-a1"].messages == 20 and channels.limits["dingtalk-supervisor"].pause_seconds == 600
    )


def test_the_supervisors_unit_is_reached_on_the_supervisors_channel(tmp_path: Path) -> None:
    """A street's 退单 or 延期 awaits the supervisor's unit (`supervisor-12345`), and so does a case in its queue:
    those notices go to the supervisors' channel, never to the '*' group of the streets and departments."""
    cfg = Settings(
        policy_dir=policy_dir(tmp_path, EXAMPLE),
        notify_secrets={name: SecretStr(f"s-{name}") for name in EXAMPLE_SECRETS},
        webhook_url=None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
    )
    channels = build_channels(cfg)
    assert channels.route("supervisor-12345") == channels.route("supervisor") == [("dingtalk-supervisor", "dingtalk")]


def test_a_channel_naming_the_supervisors_unit_serves_the_supervisor(tmp_path: Path) -> None:
    toml = EXAMPLE.replace('recipients = ["supervisor"]', 'recipients = ["supervisor-12345"]')
    assert toml != EXAMPLE
    cfg = Settings(
        policy_dir=policy_dir(tmp_path, toml),
        notify_secrets={name: SecretStr(f"s-{name}") for name in EXAMPLE_SECRETS},
        webhook_url=None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
    )
    channels = build_channels(cfg)
    assert channels.route("supervisor") == channels.route("supervisor-12345") == [("dingtalk-supervisor", "dingtalk")]


def test_a_secret_the_policy_names_and_settings_lack_fails_naming_the_setting(tmp_path: Path) -> None:
    some = {name: SecretStr("x") for name in EXAMPLE_SECRETS if name != "dingtalk_supervisor_secret"}
    cfg = Settings(policy_dir=policy_dir(tmp_path, EXAMPLE), notify_secrets=some)
    with pytest.raises(MissingSecret, match="NOTIFY_SECRETS__DINGTALK_SUPERVISOR_SECRET is not set"):
        build_channels(cfg)


def test_the_dispatcher_process_refuses_to_start_without_its_secret(tmp_path: Path) -> None:
    folder = policy_dir(tmp_path, EXAMPLE)
    env = {"PATH": "/usr/bin:/bin", "POLICY_DIR": str(folder), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "notifications"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "channels.wecom-comm-a1.key: NOTIFY_SECRETS__WECOM_COMM_A1 is not set" in done.stderr


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[channels.x]\nprovider = "wecom"\nkey = "k"\nrecipients = ["grid-z9"]\n',
            "channels.x.recipients: unknown unit 'grid-z9'",
        ),
        (
            '[channels.x]\nprovider = "wecom"\nkey = "k"\nrecipients = ["reporter"]\n',
            "the reporter is reached by SMS",
        ),
        (
            '[channels.x]\nprovider = "sms"\nurl = "http://g"\ncredential = "c"\nsign_name = "s"\n'
            'recipients = ["comm-a1"]\n',
            "an SMS channel serves 'reporter' only",
        ),
        ('[channels.x]\nprovider = "wecom"\nkey = "robot key!"\nrecipients = ["*"]\n', "channels.x.wecom.key"),
        ('[channels.x]\nprovider = "telegram"\nrecipients = ["*"]\n', "channels.x: Input tag 'telegram'"),
        ("[delivery]\ntimeout_seconds = 30\nlease_seconds = 20\n", "lease_seconds: must be longer"),
    ],
)
def test_a_broken_notification_policy_fails_naming_the_field(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(PolicyError, match="policy/notifications.toml") as err:
        load_notification_policy(policy_dir(tmp_path, toml))
    assert message in str(err.value)


def test_a_policy_without_the_file_has_no_channels(tmp_path: Path) -> None:
    folder = policy_dir(tmp_path, "")
    (folder / "notifications.toml").unlink()
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)
    assert load_notification_policy(folder).channels == {}


def test_make_run_stops_before_starting_anything_when_a_secret_is_missing(tmp_path: Path) -> None:
    from scripts.run import check_notifications
    from scripts.temporal_dev import StartupError

    cfg = Settings(policy_dir=policy_dir(tmp_path, EXAMPLE), database_url=f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(StartupError, match="NOTIFY_SECRETS__WECOM_COMM_A1 is not set"):
        check_notifications(cfg)
