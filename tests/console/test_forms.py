"""The console's forms without a browser: every action of the registry has one, and what a form sends becomes
the engine's own model (or a complaint in Chinese naming the field)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from console import forms, web
from console.routes.case import Feedback
from models import inputs as m
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from models.case import OUTCOME_LABEL, Outcome
from policy import load_policy

POLICY = load_policy()
CASE = SimpleNamespace(case_id="case:x", last_seq=3, holder="grid-a1-1", pending_return=None, pending_extension=None)
TEMPLATE = web.env.from_string(
    '{% from "_actions.html" import case_form, whistle_form %}'
    "{% if whistle %}{{ whistle_form(name, case, w, feedback, request_id, directory, '/console', 'tok') }}"
    "{% else %}{{ case_form(name, case, feedback, request_id, policy, directory, '/console', 'tok') }}{% endif %}"
)


SUMMONED = [
    SimpleNamespace(unit_id=unit, name=unit, checked_in_at=datetime(2026, 12, 1, tzinfo=UTC), released_at=None)
    for unit in ("dept-enforcement", "dept-housing")
]


def render(name: str, whistle: bool = False, feedback: Feedback | None = None) -> str:
    w = SimpleNamespace(summary=SimpleNamespace(n=1), record=SimpleNamespace(departments=SUMMONED))
    return TEMPLATE.render(
        name=name, case=CASE, w=w, whistle=whistle, feedback=feedback or Feedback(), request_id=lambda key: f"r{key}",
        policy=POLICY, directory=POLICY.directory,
    )  # fmt: skip


@pytest.mark.parametrize("spec", CASE_ACTIONS, ids=lambda s: s.name.value)
def test_every_case_action_has_a_form(spec: ActionSpec[m.Action]) -> None:
    name = spec.name.value
    html = render(name)
    assert f'data-action="{name}"' in html and f"/act/{name}" in html
    assert 'name="csrf_token" value="tok"' in html and f'value="r{name}"' in html


@pytest.mark.parametrize("spec", WHISTLE_ACTIONS, ids=lambda s: s.name.value)
def test_every_whistle_action_has_a_form(spec: ActionSpec[m.Action]) -> None:
    name = spec.name.value
    html = render(name, whistle=True)
    assert f'data-action="whistle-1-{name}"' in html and f"/whistles/1/act/{name}" in html


def test_a_refused_form_stays_open_with_its_message_and_what_was_typed() -> None:
    feedback = Feedback(action="escalate", error="吹哨进行中，不能上报", values={"reason": ["需上级协调"]})
    html = render("escalate", feedback=feedback)
    assert '<details class="action-box" id="box-escalate" open>' in html
    assert "吹哨进行中，不能上报" in html and "需上级协调" in html
    assert " open>" not in render("escalate")


class _Fields(HTMLParser):
    """A rendered form's fields as a browser keeps them: name, kind, value, whether chosen, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, Any]] = []
        self._select: str | None = None
        self._textarea: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            kind = a.get("type") or "text"
            self.fields.append({"name": a["name"], "kind": kind, "value": a.get("value") or "", "on": "checked" in a})
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.fields.append({"name": self._select, "kind": "option", "value": a.get("value"), "on": "selected" in a})
        elif tag == "textarea":
            self._textarea = {"name": a["name"], "kind": "text", "value": "", "on": False}
            self.fields.append(self._textarea)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["value"] += data


def _fields(html: str) -> list[dict[str, Any]]:
    parser = _Fields()
    parser.feed(html)
    return parser.fields


def _sent(fields: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the browser sends for these fields as they stand (a select with nothing chosen sends its first)."""
    sent: list[tuple[str, str]] = []
    for (name, is_option), group in itertools.groupby(fields, key=lambda f: (f["name"], f["kind"] == "option")):
        items = list(group)
        if is_option:
            chosen = [f for f in items if f["on"]] or items[:1]
            sent.append((name, chosen[-1]["value"]))
        else:
            sent += [(f["name"], f["value"]) for f in items if f["kind"] not in ("checkbox", "radio") or f["on"]]
    return sent


def _other_choices(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every field changed from what the form first shows: the last other option, the other radio button, each
    box flipped, text typed."""
    changed = [dict(f) for f in fields]
    for (_, kind), group in itertools.groupby(changed, key=lambda f: (f["name"], f["kind"])):
        items = list(group)
        if kind in ("option", "radio"):
            shown = next((f for f in items if f["on"]), items[0])
            other = next(f for f in reversed(items) if f is not shown and f["value"])
            for f in items:
                f["on"] = f is other
        for f in items:
            if kind == "checkbox":
                f["on"] = not f["on"]
            elif kind in ("text", "number"):
                f["value"] = "3" if kind == "number" else "已电话联系"
    return changed


ALL_FORMS = [(s.name.value, False) for s in CASE_ACTIONS] + [(s.name.value, True) for s in WHISTLE_ACTIONS]


@pytest.mark.parametrize(("name", "whistle"), ALL_FORMS, ids=[n for n, _ in ALL_FORMS])
def test_a_refused_form_comes_back_as_it_was_sent(name: str, whistle: bool) -> None:
    """Every field a form has, chosen or typed, reads back what was sent: sent again after fixing what was
    refused, it says what the person meant (not 非常满意 and 已解决 where they chose 非常不满意 and 未解决)."""
    sent = _sent(_other_choices(_fields(render(name, whistle))))
    if name == "rate":
        assert ("level", "very_unsatisfied") in sent and ("solved", "false") in sent
    key = f"whistle-1-{name}" if whistle else name
    feedback = Feedback(action=key, error="评价意见：不能包含 NUL 等控制字符", values=forms.sent(FormData(list(sent))))
    refused = render(name, whistle, feedback)
    assert _sent(_fields(refused)) == sent


def test_form_fields_become_the_engines_models() -> None:
    sent = FormData([("csrf_token", "t"), ("seq", "3"), ("amount.amount", "2"), ("amount.unit", "working_days"),
                     ("reason", " 工程量大 ")])  # fmt: skip
    assert forms.parse(m.ExtensionRequest, sent) == {
        "amount": {"amount": "2", "unit": "working_days"},
        "reason": "工程量大",
    }
    ratings = FormData([("ratings.0.department", "d1"), ("ratings.0.speed", "5"), ("ratings.1.department", "d2")])
    assert forms.parse(m.RateDepartmentsAction, ratings) == {
        "ratings": [{"department": "d1", "speed": "5"}, {"department": "d2"}]
    }
    whistle = FormData([("departments", "a"), ("departments", "b"), ("kind", "ordinary")])
    assert forms.parse(m.WhistleAction, whistle)["departments"] == ["a", "b"]
    assert forms.parse(m.WhistleAction, FormData([("kind", "ordinary")]))["departments"] == []
    # An unchecked box sends only the hidden "false" before it; a checked one both, the last wins.
    assert forms.parse(m.ReplyAction, FormData([("contacted_reporter", "false")]))["contacted_reporter"] == "false"
    both = FormData([("contacted_reporter", "false"), ("contacted_reporter", "true")])
    assert forms.parse(m.ReplyAction, both)["contacted_reporter"] == "true"


def test_complaints_are_in_chinese_and_name_the_field() -> None:
    actor = m.Actor(role=m.Role.unit, id="x", unit_id="comm-a1")
    with pytest.raises(ValidationError) as err:
        m.WhistleAction(actor=actor, **forms.parse(m.WhistleAction, FormData([("kind", "ordinary"), ("reason", "x")])))
    assert forms.explain(err.value) == "被召集部门：至少选择1项；理由：至少2个字"
    with pytest.raises(ValidationError) as err:
        m.ExtensionRequest(actor=actor, **forms.parse(m.ExtensionRequest, FormData([("amount.amount", "-1")])))
    assert forms.explain(err.value) == "延期时长：须大于0；延期时长·单位：必填；理由：必填"


def test_every_way_a_case_ends_reads_in_chinese() -> None:
    assert set(OUTCOME_LABEL) == set(Outcome)


def test_the_release_form_offers_a_department_that_never_reported_once_its_report_limit_passed() -> None:
    late, waiting = datetime(2026, 12, 1, tzinfo=UTC), datetime(2099, 1, 1, tzinfo=UTC)
    unreported = {"checked_in_at": None, "released_at": None}
    departments = [
        SimpleNamespace(unit_id="dept-police", name="区公安分局", report_due=late, **unreported),
        SimpleNamespace(unit_id="dept-hrss", name="区人社局", report_due=waiting, **unreported),
    ]
    w = SimpleNamespace(summary=SimpleNamespace(n=1), record=SimpleNamespace(departments=departments))
    html = TEMPLATE.render(
        name="release", case=CASE, w=w, whistle=True, feedback=Feedback(), request_id=lambda key: f"r{key}",
        policy=POLICY, directory=POLICY.directory,
    )  # fmt: skip
    assert 'value="dept-police"' in html and "区公安分局（未报到）" in html
    assert 'value="dept-hrss"' not in html
