"""Reason templates: names looked up, never evaluated; literal braces."""

from __future__ import annotations

import pytest

from triggers.rules.template import Template, TemplateSyntaxError


def test_names_are_replaced_and_literals_kept() -> None:
    template = Template.parse("{event.type} at {{home}} for {case.id}: \\0 {rule.id}")
    assert template.names == (("event", "type"), ("case", "id"), ("rule", "id"))
    text = template.render({"event": {"type": "arrest"}, "case": {"id": "c1"}, "rule": {"id": "r"}})
    assert text == "arrest at {home} for c1: \\0 r"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "not recorded"),
        (True, "yes"),
        (False, "no"),
        (("b", "a"), "a, b"),
        ((), "none"),
        (3, "3"),
    ],
)
def test_values_read_as_words(value: object, shown: str) -> None:
    assert Template.parse("{case.x}").render({"case": {"x": value}}) == shown


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ("{event", "unmatched brace", 0),
        ("a } b", "unmatched brace", 2),
        ("x {event.__class__.__init__}", "{event.__class__.__init__} is not a name", 2),
        ("{0}", "{0} is not a name", 0),
    ],
)
def test_malformed_templates(source: str, message: str, offset: int) -> None:
    with pytest.raises(
        TemplateSyntaxError, match="^" + message.replace("{", r"\{").replace("}", r"\}")
    ) as caught:
        Template.parse(source)
    assert caught.value.offset == offset
