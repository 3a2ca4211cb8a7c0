"""Every sentence a whistle writes into its case's timeline, and the notices that go with them."""

from __future__ import annotations

from models.timeline import DEADLINE_LABEL, Deadline, Message
from models.whistle import WHISTLE_KIND_LABEL, WhistleInput
from workflows.case_texts import SUPERVISOR, Line


def name(inp: WhistleInput, unit_id: str) -> str:
    """The unit's name as its case gave it (a unit the whistle does not know keeps its id)."""
    return inp.names.get(unit_id, unit_id)


def urged(inp: WhistleInput, d: Deadline) -> Line:
    label = DEADLINE_LABEL[d.kind]
    return Line(
        f"系统催办：{name(inp, d.unit_id)}{label}即将到期",
        (Message(to=d.unit_id, text=f"【吹哨催办】{inp.case_id}：{label}即将到期"),),
    )


def overdue(inp: WhistleInput, d: Deadline) -> Line:
    unit, label = name(inp, d.unit_id), DEADLINE_LABEL[d.kind]
    return Line(
        f"{unit}超过{label}（{WHISTLE_KIND_LABEL[inp.kind]}）",
        (
            Message(to=d.unit_id, text=f"【吹哨督办】{inp.case_id}：{label}已超期"),
            Message(to=inp.whistler, text=f"【吹哨】{inp.case_id}：{unit}{label}已超期"),
            Message(to=SUPERVISOR, text=f"【吹哨督办】{inp.case_id}：{unit}{label}已超期"),
        ),
    )


def publicly_noticed(inp: WhistleInput, d: Deadline) -> Line:
    unit, label = name(inp, d.unit_id), DEADLINE_LABEL[d.kind]
    return Line(
        f"通报：{unit}超过{label}，督办后仍超期",
        (Message(to=SUPERVISOR, text=f"【通报】{inp.case_id}：{unit}超过{label}，督办后仍超期"),),
    )


def reported(inp: WhistleInput, unit_id: str, late: bool) -> Line:
    late_text = "（迟到）" if late else ""
    return Line(
        f"{name(inp, unit_id)}报到{late_text}",
        (Message(to=inp.whistler, text=f"【报到】{inp.case_id}：{name(inp, unit_id)}已报到{late_text}"),),
    )


def contacted(inp: WhistleInput, unit_id: str, note: str) -> Line:
    return Line(f"{name(inp, unit_id)}已与{name(inp, inp.whistler)}对接：{note}")


def released(inp: WhistleInput, unit_id: str, note: str) -> Line:
    return Line(
        f"{name(inp, inp.whistler)}确认{name(inp, unit_id)}任务完成，准予撤离：{note}",
        (Message(to=unit_id, text=f"【撤离】{inp.case_id}：吹哨任务已确认完成"),),
    )


def dismissed(inp: WhistleInput, unit_id: str, note: str) -> Line:
    return Line(
        f"{name(inp, inp.whistler)}确认{name(inp, unit_id)}未报到，解除召集：{note}",
        (Message(to=unit_id, text=f"【撤离】{inp.case_id}：未报到，吹哨单位已解除召集"),),
    )


def departments_rated(inp: WhistleInput, scores: dict[str, str]) -> Line:
    return Line("评价报到部门（速度/配合/效果）：" + "；".join(f"{name(inp, k)} {v}" for k, v in scores.items()))


def whistle_closed(inp: WhistleInput) -> Line:
    return Line(f"{WHISTLE_KIND_LABEL[inp.kind]}完结，各部门已撤离并评价")
