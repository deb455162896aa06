"""The YAML writer: whatever it writes, PyYAML reads back as the same value."""
from __future__ import annotations

import yaml
from hypothesis import given, settings, strategies as st

from infra.k8s.yaml_out import dump, dump_all

_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.sampled_from(["yes", "No", "on", "~", "1e3", "0x1", "- a", "a: b", "#c", "x\ny\n"])
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _values, max_size=5))
def test_round_trip(value: dict) -> None:
    assert yaml.safe_load(dump(value)) == (value or {})


def test_multi_line_text_is_a_literal_block_and_documents_are_separated() -> None:
    text = dump({"toml": "[a]\nb = 1\n"})
    assert text == "toml: |\n  [a]\n  b = 1\n"
    assert list(yaml.safe_load_all(dump_all([{"a": 1}, {"b": [1, {"c": "d"}]}]))) == [{"a": 1}, {"b": [1, {"c": "d"}]}]
