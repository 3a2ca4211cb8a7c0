"""受理: a case as a channel hands it over, the reporter as the workflow may know them, and the case's id.

None of these carries a reporter's name or phone number, only a vault reference and a masked phone.
"""

from __future__ import annotations

import re

from pydantic import AwareDatetime, Field

from models.base import Ident, Model, ShortText, Text, Url
from models.policy import (
    Urgency,
)


class ReporterRef(Model):
    """What a workflow may know of the reporter: a vault reference, never the name or phone."""

    ref: str | None = Field(default=None, description="reporter vault id; None when anonymous")
    masked_phone: str | None = Field(default=None, pattern=r"^\d{3}\*{4}\d{4}$")
    confidential: bool = False


class SealedReporter(Model):
    """The reporter's name and phone as the vault stores them, encrypted by the API before the case starts.

    It travels once, in the case's start input, to the case's first projection, which writes it to the vault
    in the same transaction as the case's row: one vault row per case, and none without a case."""

    ref: str
    name_enc: str
    phone_enc: str
    masked_phone: str
    confidential: bool = False

    def reference(self) -> ReporterRef:
        return ReporterRef(ref=self.ref, masked_phone=self.masked_phone, confidential=self.confidential)


class Location(Model):
    grid_id: Ident
    address: ShortText
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class Intake(Model):
    """受理: a case as a channel hands it over."""

    channel: Ident
    channel_ticket_id: Ident
    category: Ident
    title: ShortText
    description: Text
    location: Location
    urgency: Urgency | None = Field(default=None, description="defaults to the category's class")
    reporter: ReporterRef = ReporterRef()
    attachments: list[Url] = Field(default_factory=list, max_length=20)
    reported_at: AwareDatetime


_ID_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
MAX_CASE_ID = 255


def _escape(part: str) -> str:
    """Letters, digits and `_.-` as they are; every other character as `~XX` per UTF-8 byte (`~` itself too).

    The output never holds `:`, and each output has one input, so `case:<channel>:<ticket>` cannot collide."""
    return "".join(ch if ch in _ID_SAFE else "".join(f"~{b:02X}" for b in ch.encode()) for ch in part)


def case_id_for(channel: str, channel_ticket_id: str) -> str:
    """The same ticket from the same channel is one case, and two tickets are two: the id is derived, injective
    in (channel, ticket) whatever characters either holds. Raises ValueError for an id too long to store."""
    case_id = f"case:{_escape(channel)}:{_escape(channel_ticket_id)}"
    if len(case_id) > MAX_CASE_ID:
        raise ValueError(f"case id longer than {MAX_CASE_ID} characters")
    return case_id


def legacy_case_id_for(channel: str, channel_ticket_id: str) -> str:
    """The ids of cases started before 2026-12 (they keep them): `:` folded into `_` and a `-` between channel
    and ticket, so `c1:1` and `c1_1`, or channel `app-x` ticket `1` and `app` ticket `x-1`, were one id."""
    return f"case-{channel}-{re.sub(r'[^A-Za-z0-9_.-]', '_', channel_ticket_id)}"
