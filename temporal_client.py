"""How this process reaches Temporal: one place for the API, the worker and the command line.

The same settings reach the embedded dev server, a self-hosted cluster or Temporal Cloud: TEMPORAL_ADDRESS and
TEMPORAL_NAMESPACE; TLS with the server's CA (TEMPORAL_TLS_CA) and, for mTLS, a client certificate and key
(TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY); or an API key (TEMPORAL_API_KEY, which implies TLS). The SDK's runtime
forwards its Rust core's log lines to Python logging (so LOG_JSON covers them) and, for a worker, serves the
SDK's own metrics to Prometheus (TEMPORAL_METRICS_BIND). Every client resends an update the server dropped
unrecorded (`ResendDroppedUpdates`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar

from temporalio.api.errordetails.v1 import WorkflowNotReadyFailure
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from config import Settings, settings

log = logging.getLogger(__name__)
T = TypeVar("T")
RESEND_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
"""Seconds before each resend of a dropped update; the case's next workflow task usually follows at once."""


def tls_config(cfg: Settings) -> TLSConfig | bool:
    """TLS as the settings ask: False (plain, the dev server), True (the system's CAs), or with files."""
    if not cfg.temporal_tls_enabled:
        return False
    if not (cfg.temporal_tls_ca or cfg.temporal_tls_cert or cfg.temporal_tls_server_name):
        return True
    return TLSConfig(
        server_root_ca_cert=cfg.temporal_tls_ca.read_bytes() if cfg.temporal_tls_ca else None,
        client_cert=cfg.temporal_tls_cert.read_bytes() if cfg.temporal_tls_cert else None,
        client_private_key=cfg.temporal_tls_key.read_bytes() if cfg.temporal_tls_key else None,
        domain=cfg.temporal_tls_server_name,
    )


@lru_cache
def runtime(metrics_bind: str | None = None) -> Runtime:
    """One SDK runtime per process (and metrics endpoint): each has its own threads."""
    metrics = (
        PrometheusConfig(
            bind_address=metrics_bind, counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True
        )
        if metrics_bind
        else None
    )
    forward = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forward),
            metrics=metrics,
        )
    )


def dropped(err: RPCError) -> bool:
    """The server dropped the update with the workflow task that carried it, before anything was recorded.

    A task that completes the workflow fails (UnhandledCommand) when an event comes in as it completes, say a
    whistle ending as the resident's rating closes the case; the server then aborts the updates of that task with
    WorkflowNotReady. The case never saw the update, so the same update (same id) may be sent again."""
    return err.status is RPCStatusCode.FAILED_PRECONDITION and any(
        d.Is(WorkflowNotReadyFailure.DESCRIPTOR) for d in err.grpc_status.details
    )


RETRYABLE_RPC = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
}
"""Statuses from Temporal that say "not now", not "never": the same request may be sent again."""


def not_now(err: RPCError) -> bool:
    """Temporal, or the case's worker, cannot answer now: the case is as it was, and the same request may be sent
    again (with the same update id, for an action)."""
    return err.status in RETRYABLE_RPC or dropped(err) or unanswered(err)


def unanswered(err: RPCError) -> bool:
    """A query no worker answered: the server has seen no poller on the workflow's task queue for a while. The
    case is as it was (not closed, not missing); the same read succeeds once a worker is back."""
    return err.status is RPCStatusCode.FAILED_PRECONDITION and "no poller" in err.message


async def resend_dropped(call: Callable[[], Awaitable[T]]) -> T:
    """`call`, made again after each short delay while the server drops it (then its last answer, or error)."""
    for delay in RESEND_DELAYS:
        try:
            return await call()
        except RPCError as err:
            if not dropped(err):
                raise
            log.info("update dropped with its workflow task; sending it again")
        await asyncio.sleep(delay)
    return await call()


class _Resend(OutboundInterceptor):
    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        return await resend_dropped(lambda: self.next.start_workflow_update(input))


class ResendDroppedUpdates(Interceptor):
    """Sends again, with the same update id, an update the server dropped unrecorded (see `dropped`). Not the
    update that starts a case: no event can reach a workflow before its first task."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Resend(next)


def connect_options(cfg: Settings, *, metrics_bind: str | None = None) -> dict[str, Any]:
    return {
        "target_host": cfg.temporal_address,
        "namespace": cfg.temporal_namespace,
        "api_key": cfg.temporal_api_key.get_secret_value() if cfg.temporal_api_key else None,
        "tls": tls_config(cfg),
        "data_converter": pydantic_data_converter,
        "interceptors": [ResendDroppedUpdates()],
        "runtime": runtime(metrics_bind),
    }


async def connect(
    cfg: Settings | None = None,
    *,
    address: str | None = None,
    metrics_bind: str | None = None,
    connect_timeout: timedelta | None = None,
) -> Client:
    """A client of the settings' Temporal (or of `address`, with the same credentials)."""
    options = connect_options(cfg or settings, metrics_bind=metrics_bind)
    if address is not None:
        options["target_host"] = address
    if connect_timeout is not None:
        options["connect_timeout"] = connect_timeout
    return await Client.connect(**options)


def ui_url(case_id: str, cfg: Settings = settings) -> str:
    """The case's history in the Temporal Web UI (its raw events, for supervisors and developers)."""
    return f"{cfg.temporal_ui_url}/namespaces/{cfg.temporal_namespace}/workflows/{case_id}"
