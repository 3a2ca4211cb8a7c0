"""From an HTML form to the engine's own models, and pydantic's complaints back into Chinese for people."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from models.errors import input_problem
from models.inputs import SERVER_FIELDS

FIELD_LABEL = {
    "reason": "理由",
    "note": "说明",
    "result": "办理结果",
    "to_unit": "改派单位",
    "departments": "被召集部门",
    "department": "部门",
    "kind": "哨别",
    "amount": "延期时长",
    "unit": "单位",
    "approve": "审批意见",
    "level": "满意度",
    "solved": "是否解决",
    "comment": "评价意见",
    "into_case_id": "合并目标诉求编号",
    "ratings": "部门评价",
    "speed": "速度",
    "cooperation": "配合",
    "category": "诉求类别",
    "title": "标题",
    "description": "诉求内容",
    "location": "位置",
    "grid_id": "网格",
    "address": "地址",
    "urgency": "紧急程度",
    "reporter": "诉求人",
    "name": "姓名",
    "phone": "电话",
    "channel_ticket_id": "工单号",
}
SKIPPED = (*SERVER_FIELDS, "csrf_token", "seq", "panel")


def parse(model: type[BaseModel], form: FormData) -> dict[str, Any]:
    """The form's fields as the model's data: `a.b` nests, `a.0.b` makes lists, list fields take every value,
    other fields their last (a hidden `false` before a checkbox gives unchecked boxes a value)."""
    data: dict[str, Any] = {}
    for key in dict.fromkeys(form.keys()):
        if key in SKIPPED:
            continue
        path = key.split(".")
        field = model.model_fields.get(path[0])
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        if field is not None and len(path) == 1 and typing.get_origin(field.annotation) is list:
            value: Any = [v for v in values if v.strip()]
        else:
            value = values[-1].strip() if values else ""
            if value == "":
                continue  # an empty optional field is absent; an empty required one is "missing"
        _put(data, path, value)
    for name, field in model.model_fields.items():
        # No box ticked sends nothing: say "choose at least one", not "missing".
        if name not in data and field.is_required() and typing.get_origin(field.annotation) is list:
            data[name] = []
    return data


def sent(form: FormData) -> dict[str, list[str]]:
    """Every value of every field the person filled in (ticked boxes, chosen options, typed text), to show the
    form again as it was sent when it is refused."""
    keys = (k for k in dict.fromkeys(form.keys()) if k not in SKIPPED)
    return {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in keys}


def _put(data: dict[str, Any] | list[Any], path: list[str], value: Any) -> None:
    if isinstance(data, list):
        index = int(path[0])
        data.extend([None] * (index + 1 - len(data)))
        child = data[index]
    else:
        child = data.get(path[0])
    if len(path) == 1:
        child = value
    elif child is None:
        child = [] if path[1].isdigit() else {}
    if isinstance(data, list):
        data[int(path[0])] = child
    else:
        data[path[0]] = child
    if len(path) > 1:
        _put(child, path[1:], value)


def explain(err: ValidationError) -> str:
    """One line per problem, each naming the field as the form does."""
    return "；".join(_line(e) for e in err.errors(include_url=False))


def _line(e: Any) -> str:
    names: list[str] = []
    for part in e["loc"]:
        label = FIELD_LABEL.get(str(part), str(part))
        if not isinstance(part, int) and (not names or names[-1] != label):  # 延期时长·amount reads 延期时长
            names.append(label)
    where = "·".join(names) or "输入"
    return f"{where}：{input_problem(e)}"
