"""The flat depth scan agrees with the parser on every JSON it can parse, and refuses deep or non-UTF-8 bodies before parsing."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from processors.web.bodies import MAX_DEPTH, check_json, json_depth, load_json
from processors.web.errors import ApiError

documents = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\x'), inner, max_size=3),
                         max_leaves=30)


def parsed_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((parsed_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((parsed_depth(v) for v in value.values()), default=0)
    return 0


@given(documents)
def test_the_scan_counts_what_the_parser_nests_brackets_in_strings_aside(value: object) -> None:
    assert json_depth(json.dumps(value).encode()) == parsed_depth(value)


def test_thirty_thousand_levels_are_refused_without_parsing() -> None:
    with pytest.raises(ApiError) as refused:
        load_json(b"[" * 30_000 + b"]" * 30_000)
    assert (refused.value.status, refused.value.code) == (400, "too_deep")
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ApiError) as refused:
        check_json(b'{"a": "\xff"}')
    assert (refused.value.status, refused.value.code) == (400, "invalid_encoding")
