"""Prometheus metrics of the API: cases started, actions, rejections, latency; escalations, overdue and the
notification outbox are counted from the read model when scraped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

CASES_STARTED = Counter("cases_started_total", "Cases started through the API", ["channel"], registry=REGISTRY)
ACTIONS = Counter("case_actions_total", "Actions accepted on cases", ["action"], registry=REGISTRY)
REJECTIONS = Counter("case_rejections_total", "Requests refused, by code", ["code"], registry=REGISTRY)
LATENCY = Histogram(
    "api_request_seconds",
    "API latency by route",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ESCALATIONS = Gauge("case_escalations", "Automatic escalations recorded (read model)", registry=REGISTRY)
OVERDUE = Gauge("cases_overdue", "Open cases that are overdue now (read model)", registry=REGISTRY)
NOTIFICATIONS = Gauge(
    "notifications",
    "Notification deliveries by state (queued: not routed yet; no_channel: no channel serves the recipient)",
    ["state"],
    registry=REGISTRY,
)
NOTIFICATION_RETRIES = Gauge("notification_retries", "Attempts after the first, over all deliveries", registry=REGISTRY)
NOTIFICATION_DUPLICATES = Gauge(
    "notification_duplicates",
    "Sends after a send that was never confirmed (a dispatcher died mid-send): possible duplicates",
    registry=REGISTRY,
)
NOTIFICATION_LAG = Gauge(
    "notification_oldest_waiting_seconds",
    "Age of the oldest message not delivered yet (the delivery lag now)",
    registry=REGISTRY,
)
