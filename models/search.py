"""Search attributes: what the Temporal UI and CLI can filter cases by."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_UNIT = SearchAttributeKey.for_keyword("CaseUnit")
CASE_TIER = SearchAttributeKey.for_keyword("CaseTier")
CASE_URGENCY = SearchAttributeKey.for_keyword("CaseUrgency")
CASE_CATEGORY = SearchAttributeKey.for_keyword("CaseCategory")
CASE_OVERDUE = SearchAttributeKey.for_bool("CaseOverdue")
CASE_NEXT_DEADLINE = SearchAttributeKey.for_datetime("CaseNextDeadline")

ALL_KEYS = (CASE_STATUS, CASE_UNIT, CASE_TIER, CASE_URGENCY, CASE_CATEGORY, CASE_OVERDUE, CASE_NEXT_DEADLINE)
