"""Prometheus metrics of this API process: cases started, actions, refusals, HTTP requests. What the read model
knows (escalations, overdue cases by unit and tier, the notification outbox, the calendar's horizon) is read when
scraped (routes/ops)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# One series per counter: `*_created` timestamps only double what a scrape shows.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry()

CASES_STARTED = Counter("cases_started_total", "Cases started through the API", ["channel"], registry=REGISTRY)
ACTIONS = Counter("case_actions_total", "Actions accepted on cases", ["action"], registry=REGISTRY)
REJECTIONS = Counter("case_rejections_total", "Requests refused, by code", ["code"], registry=REGISTRY)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
