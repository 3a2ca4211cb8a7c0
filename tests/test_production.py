"""ENVIRONMENT=production refuses at start what only a demo may have, naming the setting."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from pydantic import ValidationError

from config import ROOT, Settings
from scripts import run

STRONG_KEY = secrets.token_urlsafe(32)


WORKER = ["worker.py"]
API = ["-m", "uvicorn", "api.main:app", "--port", "0"]


@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        (WORKER, {"DEMO_KEYS": "1", "VAULT_KEY": STRONG_KEY}, "DEMO_KEYS"),
        (API, {"DEMO_KEYS": "1", "VAULT_KEY": STRONG_KEY}, "DEMO_KEYS"),
        (API, {"VAULT_KEY": "x"}, "VAULT_KEY"),
    ],
)
def test_production_refuses_demo_keys_and_a_weak_vault_key(command: list[str], env: dict[str, str], named: str) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("DEMO_KEYS", "VAULT_KEY")}
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={**environ, "ENVIRONMENT": "production", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "refuses to start" in done.stderr and named in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_production_starts_with_a_strong_key_and_make_run_adds_no_demo_keys() -> None:
    cfg = Settings(environment="production", vault_key=STRONG_KEY, console_secret=STRONG_KEY)
    assert cfg.production and not cfg.demo_keys
    assert "DEMO_KEYS" not in run.api_environment(cfg, {"PATH": "/bin"})
    assert not run.demo_keys_on(cfg)
    with pytest.raises(ValidationError, match="DEMO_KEYS"):
        Settings(environment="production", vault_key=STRONG_KEY, console_secret=STRONG_KEY, demo_keys=True)
    for weak in ("a" * 40, "development-only-vault-key-change-me", "short"):
        with pytest.raises(ValidationError, match="VAULT_KEY is too weak"):
            Settings(environment="production", vault_key=weak)
