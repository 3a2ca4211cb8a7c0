"""The dispatcher's own Prometheus registry (served on NOTIFY_METRICS_PORT when set): what one dispatcher
process did. The outbox's state across all dispatchers is in the API's /metrics (`notifications{state}`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()

SENDS = Counter(
    "notification_sends_total",
    "Sends by provider and outcome (delivered, retry, rate_limited, dead)",
    ["provider", "outcome"],
    registry=REGISTRY,
)
RESENT = Counter(
    "notification_resent_unconfirmed_total",
    "Sends of a message whose earlier send was begun and never confirmed (possible duplicates)",
    ["provider"],
    registry=REGISTRY,
)
LAG = Histogram(
    "notification_delivery_lag_seconds",
    "From the case writing a message to its delivery being confirmed",
    ["provider"],
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
