"""SMS through an HTTP gateway, to the reporter of a case.

The outbox addresses the reporter as `reporter:<vault ref>`; the phone is looked up in the reporter vault
here, at send time, and only the gateway's request carries it: never the outbox, a history or a log (an
error the gateway answers has the number masked before it is stored). Every look-up is written to the reveal
audit, as the API's are. A confidential reporter is still told: confidentiality hides the reporter from
staff, not from the engine's own messages.

The gateway: `POST <url>` with `Authorization: Bearer <credential>`, `Idempotency-Key: <key>` and the JSON
`{"message_id", "phone", "sign_name", "content"}`; it answers `{"code": "OK"}`, or `{"code": "RATE_LIMITED"}`
(or HTTP 429) when it throttles, or another code for a message it will never send.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from sqlmodel import Session

from models.tables import RevealAudit
from notifications.policy import ANONYMOUS, REPORTER, SmsChannel
from notifications.providers import Message, Outcome, Result, http_outcome, json_body, post, short
from store.vault import ReporterVault, mask_phone

ACTOR = "notifications:sms"
RATE_LIMITED = "RATE_LIMITED"


class Sms:
    kind = "sms"

    def __init__(self, name: str, channel: SmsChannel, credential: str, vault: ReporterVault) -> None:
        self.name, self.channel, self.credential, self.vault = name, channel, credential, vault

    def _phone(self, message: Message) -> str | None:
        """The reporter's phone from the vault, the look-up audited; None for one the vault does not hold."""
        ref = message.recipient.removeprefix(f"{REPORTER}:")
        if message.recipient == ANONYMOUS or ref == message.recipient:
            return None
        found = self.vault.reveal(ref)
        if found is None:
            return None
        with Session(self.vault.engine) as session:
            session.add(
                RevealAudit(
                    case_id=message.case_id, reporter_ref=ref, actor=ACTOR, at=datetime.now(UTC), request_id=message.key
                )
            )
            session.commit()
        return found[1]

    async def send(self, http: httpx.AsyncClient, message: Message) -> Outcome:
        phone = await asyncio.to_thread(self._phone, message)
        if phone is None:
            return Outcome(Result.permanent, "the reporter is not in the vault")
        resp = await post(
            http,
            self.channel.url,
            json={
                "message_id": message.key,
                "phone": phone,
                "sign_name": self.channel.sign_name,
                "content": message.text,
            },
            headers={"Authorization": f"Bearer {self.credential}", "Idempotency-Key": message.key},
        )
        outcome = resp if isinstance(resp, Outcome) else self._read(resp)
        if phone in outcome.detail:
            outcome = Outcome(outcome.result, outcome.detail.replace(phone, mask_phone(phone)), outcome.retry_after)
        return outcome

    def _read(self, resp: httpx.Response) -> Outcome:
        decided = http_outcome(resp)
        if decided is not None:
            return decided
        body = json_body(resp) or {}
        code = str(body.get("code", ""))
        if code == "OK":
            return Outcome.ok()
        detail = short(f"code {code or '?'}: {body.get('message', resp.text)}")
        if code == RATE_LIMITED:
            return Outcome(Result.rate_limited, detail)
        return Outcome(Result.permanent if code else Result.retry, detail)
