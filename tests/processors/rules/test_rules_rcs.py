"""RCS content: shapes (text, rich card, carousel), counts and lengths at their exact limits, every problem with its path."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from processors.rules.issues import Issue
from processors.rules.rcs import RcsLimits, rcs_problems

LIMITS = RcsLimits()


def paths(rcs: Any, rendered: bool = True, limits: RcsLimits = LIMITS) -> list[str]:
    return [issue.path for issue in rcs_problems(rcs, limits, rendered=rendered)]


def reply(text: str = "OK") -> dict[str, str]:
    return {"type": "reply", "text": text}


def card(**fields: Any) -> dict[str, Any]:
    return {"title": "T", "description": "D", "media_url": "https://example.com/a.png", **fields}


@pytest.mark.parametrize("rcs", [
    {"text": "x" * 2000},
    {"text": "hi", "suggestions": [reply("y" * 25)] * 11},
    card(title="t" * 200, description="d" * 2000, suggestions=[reply()] * 4),
    {"media_url": "https://example.com/only-media.gif"},
    {"carousel": [card()] * 2},
    {"carousel": [card(suggestions=[reply()] * 4)] * 10, "suggestions": [reply()] * 11},
    {"text": "call", "suggestions": [{"type": "dial", "text": "Call", "phone_number": "+33140000000"},
                                     {"type": "open_url", "text": "Open", "url": "http://example.com/x"}]},
])
def test_content_at_the_limits_is_clean(rcs: dict[str, Any]) -> None:
    assert rcs_problems(rcs, LIMITS, rendered=True) == []


@pytest.mark.parametrize(("rcs", "expected"), [
    ({"text": "x" * 2001}, [Issue("rcs.text", "2001 characters; the limit is 2000", too_long=True)]),
    (card(title="t" * 201), [Issue("rcs.title", "201 characters; the limit is 200", too_long=True)]),
    (card(description="d" * 2001), [Issue("rcs.description", "2001 characters; the limit is 2000", too_long=True)]),
    ({"text": "a", "suggestions": [reply("y" * 26)]},
     [Issue("rcs.suggestions[0].text", "26 characters; the limit is 25", too_long=True)]),
    ({"text": "a", "suggestions": [reply()] * 12}, [Issue("rcs.suggestions", "12 suggestions; at most 11 here")]),
    (card(suggestions=[reply()] * 5), [Issue("rcs.suggestions", "5 suggestions; at most 4 here")]),
    ({"carousel": [card()]}, [Issue("rcs.carousel", "1 card; a carousel has 2 to 10")]),
    ({"carousel": [card()] * 11}, [Issue("rcs.carousel", "11 cards; a carousel has 2 to 10")]),
    ({"text": "   "}, [Issue("rcs.text", "renders empty")]),
    ({"text": "a", "suggestions": [reply("")]}, [Issue("rcs.suggestions[0].text", "renders empty")]),
    (card(media_url="javascript:alert(1)"), [Issue("rcs.media_url", "must be an http(s) URL, not 'javascript:alert(1)'")]),
    ({"title": " ", "description": ""}, [Issue("rcs", "the card renders empty (no title, description or media)")]),
])
def test_each_limit_is_one_issue(rcs: dict[str, Any], expected: list[Issue]) -> None:
    assert rcs_problems(rcs, LIMITS, rendered=True) == expected


def test_every_problem_is_reported_with_its_path() -> None:
    rcs = {
        "carousel": [card(title="t" * 300, colour="red", suggestions=[reply()] * 5), {"suggestions": []}],
        "suggestions": [{"type": "call", "text": "x"}, {"type": "open_url", "text": "Go"}, "nope"],
        "text": "not with a carousel",
    }
    assert paths(rcs) == [
        "rcs.text", "rcs.carousel[0].colour", "rcs.carousel[0].title", "rcs.carousel[0].suggestions", "rcs.carousel[1]",
        "rcs.suggestions[0].type", "rcs.suggestions[1].url", "rcs.suggestions[2]",
    ]


def test_lengths_are_not_judged_before_rendering() -> None:
    rcs = {"text": "{{ a }}" * 400, "suggestions": [reply("{{ label_that_is_long }}")]}
    assert paths(rcs, rendered=False) == []
    assert paths({"carousel": [card()]}, rendered=False) == ["rcs.carousel"]  # counts do not depend on variables


@pytest.mark.parametrize(("rcs", "fragment"), [
    ("text", "must be a table"),
    ({}, "needs `text`"),
    ({"suggestions": [reply()]}, "needs `text`"),
    ({"carousel": {"title": "x"}}, "list of cards"),
    ({"text": 5}, "must be a string"),
    ({"text": "a", "suggestions": {"type": "reply"}}, "list of suggestions"),
])
def test_malformed_sections(rcs: Any, fragment: str) -> None:
    issues = rcs_problems(rcs, LIMITS, rendered=False)
    assert len(issues) == 1 and fragment in str(issues[0])


def test_the_text_limit_is_a_setting() -> None:
    assert paths({"text": "x" * 161}, limits=RcsLimits(text=160)) == ["rcs.text"]
    assert paths({"text": "x" * 3000}, limits=RcsLimits(text=3072)) == []


@settings(max_examples=300, deadline=None)
@given(cards=st.lists(st.tuples(st.integers(0, 260), st.integers(0, 6), st.integers(1, 30)), max_size=12),
       chips=st.integers(0, 13))
def test_carousel_issues_match_the_limits(cards: list[tuple[int, int, int]], chips: int) -> None:
    rcs = {"carousel": [card(title="t" * title, suggestions=[reply("s" * label)] * count) for title, count, label in cards],
           "suggestions": [reply()] * chips}
    expected = [] if 2 <= len(cards) <= 10 else ["rcs.carousel"]
    for index, (title, count, label) in enumerate(cards):
        path = f"rcs.carousel[{index}]"
        if title > 200:
            expected.append(f"{path}.title")
        if count > 4:
            expected.append(f"{path}.suggestions")
        if label > 25:
            expected += [f"{path}.suggestions[{n}].text" for n in range(count)]
    if chips > 11:
        expected.append("rcs.suggestions")
    assert paths(rcs) == expected
