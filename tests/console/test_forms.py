"""The console's forms without a browser: every action of the registry has one, and what a form sends becomes
the engine's own model (or a complaint in Chinese naming the field)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from console import forms, web
from console.routes.case import Feedback
from models import inputs as m
from models.actions import CASE_ACTIONS, WHISTLE_ACTIONS, ActionSpec
from policy import load_policy

POLICY = load_policy()
CASE = SimpleNamespace(case_id="case:x", last_seq=3, holder="grid-a1-1", pending_return=None, pending_extension=None)
TEMPLATE = web.env.from_string(
    '{% from "_actions.html" import case_form, whistle_form %}'
    "{% if whistle %}{{ whistle_form(name, case, w, feedback, request_id, directory, '/console', 'tok') }}"
    "{% else %}{{ case_form(name, case, feedback, request_id, policy, directory, '/console', 'tok') }}{% endif %}"
)


def render(name: str, whistle: bool = False, feedback: Feedback | None = None) -> str:
    w = SimpleNamespace(summary=SimpleNamespace(n=1), record=None)
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
    feedback = Feedback(action="escalate", error="吹哨进行中，不能上报", values={"reason": "需上级协调"})
    html = render("escalate", feedback=feedback)
    assert '<details class="action-box" open>' in html and "吹哨进行中，不能上报" in html and "需上级协调" in html
    assert " open>" not in render("escalate")


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
