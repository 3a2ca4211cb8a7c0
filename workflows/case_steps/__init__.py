"""One module per step of the process (DOMAIN.md's lifecycle), each with its guard, check and apply."""

from __future__ import annotations

from models.actions import ActionName
from workflows.case_steps.base import Step
from workflows.case_steps.escalate import ESCALATE
from workflows.case_steps.extension import DECIDE_EXTENSION, REQUEST_EXTENSION
from workflows.case_steps.merge import MERGE
from workflows.case_steps.oversight import CLOSE, SUPERVISE, URGE
from workflows.case_steps.rating import RATE
from workflows.case_steps.reject import REJECT
from workflows.case_steps.reply import REPLY
from workflows.case_steps.returns import DECIDE_RETURN, REDISPATCH, RETURN
from workflows.case_steps.sign import SIGN
from workflows.case_steps.supervisor_queue import EXTEND
from workflows.case_steps.suspend import RESUME, SUSPEND
from workflows.case_steps.whistle import WHISTLE
from workflows.case_steps.withdraw import WITHDRAW

STEPS: dict[ActionName, Step] = {  # type: ignore[type-arg]
    ActionName.sign: SIGN,
    ActionName.return_: RETURN,
    ActionName.decide_return: DECIDE_RETURN,
    ActionName.redispatch: REDISPATCH,
    ActionName.escalate: ESCALATE,
    ActionName.whistle: WHISTLE,
    ActionName.request_extension: REQUEST_EXTENSION,
    ActionName.decide_extension: DECIDE_EXTENSION,
    ActionName.suspend: SUSPEND,
    ActionName.resume: RESUME,
    ActionName.reply: REPLY,
    ActionName.rate: RATE,
    ActionName.withdraw: WITHDRAW,
    ActionName.merge: MERGE,
    ActionName.reject: REJECT,
    ActionName.urge: URGE,
    ActionName.supervise: SUPERVISE,
    ActionName.extend: EXTEND,
    ActionName.close: CLOSE,
}
