"""Logging: JSON in production (LOG_JSON), readable on a terminal; one handler for every logger in the process.

structlog's lines and the standard library's (uvicorn's access and error logs, the Temporal SDK's, its Rust
core's through the runtime, Python's warnings) go through the same formatter, so with LOG_JSON every line is one
JSON object with `timestamp`, `level`, `logger` and `event`. Lines carry ids, never personal data, and never a
secret: an `api_key=` (or token) in a URL is masked in every line, whoever logs it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

SECRET_IN_URL = re.compile(r"(?i)\b((?:api_key|apikey|access_token|token|key)=)[^&\s\"'#]+")
MASK = "***"
# Loggers that bring handlers of their own (uvicorn configures them before it imports the app).
OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def redact(text: str) -> str:
    return SECRET_IN_URL.sub(rf"\g<1>{MASK}", text)


class RedactSecrets(logging.Filter):
    """Masks secrets in a standard-library record: its message and its arguments (uvicorn's access log passes
    the path with its query as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def _redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in event.items()}


def configure(json: bool = False, level: int = logging.INFO) -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_event,
    ]
    # A plain traceback on a terminal too: rich's default shows every frame's local values (what a case holds, a
    # reporter's phone among them), and rendering them from inside the sandbox of a failing workflow task ran past
    # the SDK's deadlock timeout, whose error then replaced the task's own.
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([structlog.processors.format_exc_info] if json else []),
                renderer,
            ],
        )
    )
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in OWN_HANDLERS:
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    logging.captureWarnings(True)
