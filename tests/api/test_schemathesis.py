"""Property-based: every operation of the running API, fed what its OpenAPI schema allows, answers as the schema
says: never a 5xx, only documented statuses, content types and headers, bodies matching their schema (errors
included), invalid input refused, keyed operations refused without a key.

Schemathesis generates requests from `/openapi.json` of the end-to-end stack (real Temporal, worker and API),
on each database, and runs its conformance checks on every answer (CHECKS). Not among them:
`positive_data_acceptance`, which wants a 2xx for every valid body, where a case's state refuses most actions
(409) by design.

- valid requests (positive mode) as the supervisor, a unit and a channel; operations on a case go to a live
  case opened for that actor, so generated actions reach the workflow's validators, not just a 404;
- invalid requests (negative mode) as the supervisor, with any case id.

Reads are cheap and take most of the free-form input (filters, paging, dates), so they get more examples.
It all runs in a worker thread: the stack's API serves on this test's event loop, which must stay free while
requests are sent. Bounded to well under a minute on two cores.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.core.result import Err
from schemathesis.errors import FailureGroup

from tests.api.conftest import Stack, key

READ_EXAMPLES = 15
WRITE_EXAMPLES = 4
ACTORS = ("supervisor-12345", "grid-a1-1", "hotline12345")
NEGATIVE_AS = "supervisor-12345"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]


@dataclass
class Report:
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        # The same examples every run: a failure is reproduced by running the test again, never luck.
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


def exercise(
    operation: APIOperation[Any, Any, Any, Any],
    actor: str,
    mode: GenerationMode,
    base_url: str,
    report: Report,
    case_id: str | None,
) -> None:
    """Generated requests to one operation as one actor; raises when a check fails."""
    headers = {"authorization": f"Bearer demo-{actor}"}
    path: dict[str, Any] | None = None
    if case_id is not None and "{case_id}" in operation.path:
        path = {"case_id": case_id} | ({"n": 1} if "{n}" in operation.path else {})

    @budget(READ_EXAMPLES if operation.method.upper() == "GET" else WRITE_EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=path))
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        report.calls += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


def fuzz(base_url: str, live_cases: dict[str, str]) -> Report:
    """Blocking: load the schema over HTTP, then every operation as every actor, valid and invalid input."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    report = Report()
    runs: list[tuple[str, GenerationMode, str | None]] = [(a, GenerationMode.POSITIVE, live_cases[a]) for a in ACTORS]
    runs.append((NEGATIVE_AS, GenerationMode.NEGATIVE, None))
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures.append(f"the schema has an operation schemathesis cannot read: {result.err()}")
            continue
        operation = result.ok()
        for actor, mode, case_id in runs:
            try:
                exercise(operation, actor, mode, base_url, report, case_id)
            except Unsatisfiable:
                pass  # nothing to make invalid: no parameters, or only free-form strings
            except (Exception, FailureGroup) as err:  # one operation's failure must not hide the others'
                report.failures.append(f"{operation.label} as {actor} ({mode.value}):\n{err}")
    return report


async def open_case(stack: Stack) -> str:
    body = {
        "channel_ticket_id": f"fuzz-{uuid.uuid4().hex[:12]}",
        "category": "illegal_construction",
        "title": "楼道堆物",
        "description": "楼道内堆放杂物，堵塞通道",
        "location": {"grid_id": "grid-a1-1", "address": "多福巷7号"},
        "reporter": {"name": "李四", "phone": "13700001111"},
    }
    r = await stack.api.post("/cases", json=body, headers=key("hotline12345"))
    assert r.status_code == 201, r.text
    case_id: str = r.json()["case_id"]
    return case_id


async def test_no_operation_answers_a_server_error(stack: Stack) -> None:
    live_cases = {actor: await open_case(stack) for actor in ACTORS}
    report = await asyncio.to_thread(fuzz, f"http://127.0.0.1:{stack.settings.api_port}", live_cases)
    assert report.calls > 200, report
    assert not report.failures, "\n\n".join(report.failures)
    assert not any(status >= 500 for status in report.statuses), report.statuses
