"""The reporter vault: a reporter's name and phone, encrypted at rest, behind an opaque reference.

The API seals a reporter (encrypts it) at intake; the case's first projection stores the sealed row with the
case's own row, so the vault holds one row per case and none without a case. Logs and notifications carry only
the reference and a masked phone; every reveal is the caller's to audit.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.intake import SealedReporter
from models.tables import ReporterRow

PHONE = re.compile(r"^1\d{10}$|^0\d{9,11}$")


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:3]}****{digits[-4:]}"


def vault_row(case_id: str, sealed: SealedReporter) -> dict[str, Any]:
    """The vault's row for a case's sealed reporter, as the case's projection inserts it (once, keyed by ref)."""
    return {**sealed.model_dump(), "case_id": case_id, "created_at": datetime.now(UTC)}


class ReporterVault:
    def __init__(self, engine: Engine, key: str) -> None:
        self.engine = engine
        self.fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))

    def seal(self, *, name: str, phone: str, confidential: bool = False) -> SealedReporter:
        """Encrypt a reporter for the case that will store it (see `SealedReporter`); nothing is written here."""
        digits = re.sub(r"[\s-]", "", phone)
        if not PHONE.match(digits):
            raise ValueError("phone: not a mainland mobile or landline number")
        return SealedReporter(
            ref=f"rep-{uuid.uuid4().hex}",
            name_enc=self.fernet.encrypt(name.encode()).decode(),
            phone_enc=self.fernet.encrypt(digits.encode()).decode(),
            masked_phone=mask_phone(digits),
            confidential=confidential,
        )

    def reveal(self, ref: str) -> tuple[str, str] | None:
        with Session(self.engine) as session:
            row = session.get(ReporterRow, ref)
            if row is None:
                return None
            return self.fernet.decrypt(row.name_enc).decode(), self.fernet.decrypt(row.phone_enc).decode()
