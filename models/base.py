"""What every model of the engine shares: its base class and the constrained text types at the edge."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

STORABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Text every database stores as given: no NUL (PostgreSQL refuses it) and no other control character; tab and
line breaks are text. Lone surrogates, which no database stores either, fail any pattern."""


def storable(min_length: int, max_length: int) -> StringConstraints:
    """The one constraint of free text at the edge: stripped, bounded, storable (`Annotated[str, storable(...)]`)."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=STORABLE)


Text = Annotated[str, storable(1, 2000)]
ShortText = Annotated[str, storable(1, 200)]
Reason = Annotated[str, storable(2, 1000)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
CaseId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^case[-:][A-Za-z0-9_.:~-]{1,250}$")]
"""A case's id as `case_id_for` makes it (or as cases started before 2026-12 have it)."""
URL = r"^https?://[^\s\x00-\x1f\x7f]+$"
Url = Annotated[str, StringConstraints(pattern=URL, max_length=500)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
