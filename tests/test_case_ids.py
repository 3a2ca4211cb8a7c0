"""A case's id is injective in (channel, ticket): two tickets are never one case, whatever they hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.intake import MAX_CASE_ID, case_id_for, legacy_case_id_for

IDENT = st.text(alphabet="abcXYZ019_.:-~中", min_size=1, max_size=12)


@given(IDENT, IDENT, IDENT, IDENT)
def test_different_tickets_get_different_ids(c1: str, t1: str, c2: str, t2: str) -> None:
    if (c1, t1) != (c2, t2):
        assert case_id_for(c1, t1) != case_id_for(c2, t2)
    else:
        assert case_id_for(c1, t1) == case_id_for(c2, t2)


def test_the_pairs_that_collided_before() -> None:
    assert legacy_case_id_for("c", "c1:1") == legacy_case_id_for("c", "c1_1")
    assert case_id_for("c", "c1:1") != case_id_for("c", "c1_1")
    assert legacy_case_id_for("app-x", "1") == legacy_case_id_for("app", "x-1")
    assert case_id_for("app-x", "1") != case_id_for("app", "x-1")


def test_ids_stay_readable_and_never_collide_with_the_old_scheme() -> None:
    assert case_id_for("hotline12345", "T-2026.001") == "case:hotline12345:T-2026.001"
    assert case_id_for("hotline12345", "a:b") == "case:hotline12345:a~3Ab"
    assert not case_id_for("hotline12345", "x").startswith("case-")


def test_an_id_too_long_to_store_is_refused() -> None:
    with pytest.raises(ValueError):
        case_id_for("c", "x" * MAX_CASE_ID)
