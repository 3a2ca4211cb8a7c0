"""Why a request is refused: one code per reason, shared by the workflows, the API and the command line.

The workflows raise these as the `type` of a non-retryable `ApplicationError` (with a Chinese message for
people); the API maps each to its HTTP status in one table (`api/errors.py`). The values are the wire names
clients already match on: never rename one. What is wrong with one input, for the API's `fields`, Open311 and
the console's forms, is `input_problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from models.base import STORABLE, URL


class ErrorCode(StrEnum):
    # who acts
    wrong_actor = "WrongActor"
    wrong_tier = "WrongTier"
    # the case's state
    wrong_state = "WrongState"
    case_closed = "CaseClosed"
    not_ready = "NotReady"
    already_pending = "AlreadyPending"
    too_late = "TooLate"
    whistle_active = "WhistleActive"
    cannot_escalate = "CannotEscalate"
    duplicate_request = "DuplicateRequest"
    # what was asked
    invalid_input = "InvalidInput"
    missing_field = "MissingField"
    unknown_unit = "UnknownUnit"
    unknown_category = "UnknownCategory"
    unknown_grid = "UnknownGrid"
    merge_target_not_found = "MergeTargetNotFound"
    # the API's own
    unauthenticated = "Unauthenticated"
    not_found = "NotFound"
    anonymous = "Anonymous"
    confidential = "Confidential"
    rejected = "Rejected"
    bad_request = "BadRequest"
    method_not_allowed = "MethodNotAllowed"
    too_large = "TooLarge"
    unsupported_media = "UnsupportedMedia"
    # not now: the same request may be sent again
    busy = "Busy"
    in_progress = "InProgress"
    temporal_unavailable = "TemporalUnavailable"
    database_unavailable = "DatabaseUnavailable"
    # not the caller's fault
    temporal_error = "TemporalError"
    internal_error = "InternalError"

    @classmethod
    def of(cls, value: str | None) -> ErrorCode | None:
        """The code an error's type names, or None for a type that is not one of ours."""
        try:
            return cls(value) if value else None
        except ValueError:
            return None


PATTERN_PROBLEM = {STORABLE: "不能包含 NUL 等控制字符", URL: "须为 http(s):// 网址，不能包含空白或控制字符"}


def input_problem(error: Mapping[str, Any]) -> str:
    """What is wrong with one input, in Chinese, from one of pydantic's errors (the API's `fields`, the console's
    form lines). Our own validators already say it in Chinese; pydantic's built-in checks say it in English."""
    ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in (error.get("ctx") or {}).items()}
    text = {
        "missing": "必填",
        "string_too_short": f"至少{ctx.get('min_length')}个字",
        "string_too_long": f"至多{ctx.get('max_length')}个字",
        "too_short": f"至少选择{ctx.get('min_length')}项",
        "too_long": f"至多选择{ctx.get('max_length')}项",
        "greater_than": f"须大于{ctx.get('gt')}",
        "greater_than_equal": f"须不小于{ctx.get('ge')}",
        "less_than": f"须小于{ctx.get('lt')}",
        "less_than_equal": f"须不大于{ctx.get('le')}",
        "string_pattern_mismatch": PATTERN_PROBLEM.get(str(ctx.get("pattern")), "格式不正确"),
        "literal_error": "请选择有效的选项",
        "enum": "请选择有效的选项",
        "finite_number": "须为有限的数字",
        "float_parsing": "须为数字",
        "float_type": "须为数字",
        "int_parsing": "须为整数",
        "int_type": "须为整数",
        "int_from_float": "须为整数",
        "bool_parsing": "须为是或否（true 或 false）",
        "bool_type": "须为是或否（true 或 false）",
        "datetime_parsing": "须为日期时间（如 2026-12-04T09:30:00+08:00）",
        "datetime_from_date_parsing": "须为日期时间（如 2026-12-04T09:30:00+08:00）",
        "date_parsing": "须为日期（如 2026-12-04）",
        "date_from_datetime_parsing": "须为日期（如 2026-12-04）",
        "timezone_aware": "须带时区（如 +08:00）",
        "string_type": "须为文字",
        # A lone surrogate (a JSON escape like \ud800) or bytes that are not UTF-8: nothing can store it as text.
        "string_unicode": "含有无法识别的字符（须为有效的 UTF-8 文字）",
        "list_type": "须为列表",
        "model_type": "须为 JSON 对象",
        "model_attributes_type": "须为 JSON 对象",
        "dict_type": "须为 JSON 对象",
        "datetime_type": "须为日期时间（如 2026-12-04T09:30:00+08:00）",
        "date_type": "须为日期（如 2026-12-04）",
        "timezone_naive": "不能带时区",
        "json_invalid": "不是有效的 JSON",
        "extra_forbidden": "不应提交该项",
    }.get(str(error.get("type")))
    return text if text is not None else str(error.get("msg", "")).removeprefix("Value error, ")
