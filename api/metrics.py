"""Prometheus metrics of the API: cases started, actions, rejections, latency; escalations and overdue
are counted from the read model when scraped."""

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
