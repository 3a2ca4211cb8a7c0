"""Why a request is refused: one code per reason, shared by the workflows, the API and the command line.

The workflows raise these as the `type` of a non-retryable `ApplicationError` (with a Chinese message for
people); the API maps each to its HTTP status in one table (`api/errors.py`). The values are the wire names
clients already match on: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


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
