"""shared.web.bodies.strict_json_loads skips its slow checks for ordinary bodies (issue #19 point 3): every body
those checks exist for is still refused, naming the field; an ordinary body parses as json.loads does."""
from __future__ import annotations

import json

import pytest

from shared import limits
from shared.web.bodies import BodyRefused, strict_json_loads


def _refusal(text: str) -> dict:
    with pytest.raises(BodyRefused) as refused:
        strict_json_loads(text.encode("utf-8", "surrogatepass"))
    return refused.value.data["messages"]["json"]


@pytest.mark.parametrize("text, field", [
    ('{"a": 1, "note": "x\\u0000y"}', "note"),  # NUL written as an escape
    ('{"note": "x\\ud800"}', "note"),  # a lone surrogate, escaped
    ('{"note": "x\ufffdy"}', "note"),  # U+FFFD as it is
    ('{"list": [{"k": "\\u0000"}]}', "list.0.k"),
    ('{"a": 1, "a": 2}', "a"),  # a duplicate key
    ('{"n": NaN}', "n"),
    ('{"n": 123456789012345678901234}', "n"),
    ('{"n": 1e400}', "n"),
])
def test_what_the_slow_checks_are_for_is_still_refused_with_its_field(text, field):
    assert field in _refusal(text)


def test_too_deep_is_refused_and_many_brackets_within_the_depth_are_not():
    deep = '{"x": ' + "[" * limits.JSON_MAX_DEPTH + "]" * limits.JSON_MAX_DEPTH + "}"
    assert "x" in _refusal(deep)
    wide = json.dumps({"rows": [[i] for i in range(limits.JSON_MAX_DEPTH * 2)], "text": "[[[{{{"})
    assert strict_json_loads(wide) == json.loads(wide)


def test_an_ordinary_body_parses_as_json_does():
    body = {"closed_on": "2026-11-01", "reasons": ["a", "b"], "minutes": 30, "share": 0.5, "ok": True,
            "none": None, "criteria": {"x": "achieved"}, "name": "Ærlig Østby – «sitat» \\u"}
    text = json.dumps(body, ensure_ascii=False)
    assert strict_json_loads(text.encode()) == body
