"""The reporter vault: a reporter's name and phone, encrypted at rest, behind an opaque reference.

Workflows, logs and notifications carry only the reference and a masked phone; every reveal is the caller's
to audit.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.case import ReporterRef
from models.tables import ReporterRow

PHONE = re.compile(r"^1\d{10}$|^0\d{9,11}$")


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:3]}****{digits[-4:]}"


class ReporterVault:
    def __init__(self, engine: Engine, key: str) -> None:
        self.engine = engine
        self.fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))

    def store(self, *, name: str, phone: str, confidential: bool = False) -> ReporterRef:
        digits = re.sub(r"[\s-]", "", phone)
        if not PHONE.match(digits):
            raise ValueError("phone: not a mainland mobile or landline number")
        ref = f"rep-{uuid.uuid4().hex}"
        masked = mask_phone(digits)
        with Session(self.engine) as session:
            session.add(
                ReporterRow(
                    ref=ref,
                    name_enc=self.fernet.encrypt(name.encode()).decode(),
                    phone_enc=self.fernet.encrypt(digits.encode()).decode(),
                    masked_phone=masked,
                    confidential=confidential,
                    created_at=datetime.now(UTC),
                )
            )
            session.commit()
        return ReporterRef(ref=ref, masked_phone=masked, confidential=confidential)

    def reveal(self, ref: str) -> tuple[str, str] | None:
        with Session(self.engine) as session:
            row = session.get(ReporterRow, ref)
            if row is None:
                return None
            return self.fernet.decrypt(row.name_enc).decode(), self.fernet.decrypt(row.phone_enc).decode()
