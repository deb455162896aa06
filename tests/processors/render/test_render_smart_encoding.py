"""Smart encoding: the look-alike table, all-or-nothing replacement, and properties that hold for any text."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from processors.render.segments import GSM7_BASIC, GSM7_EXTENSION, count, encoding_of
from processors.render.smart_encoding import LOOKALIKES, replace_lookalikes, smart_encode

GSM = GSM7_BASIC | GSM7_EXTENSION


def test_the_table_maps_non_gsm_characters_to_gsm_text() -> None:
    assert all(len(char) == 1 and char not in GSM for char in LOOKALIKES)
    assert all(set(target) <= GSM for target in LOOKALIKES.values())
    assert {"’", "“", "”", "«", "»", "–", "—", "−", "\u00a0", "\u202f", "…", "•", "Ａ", "［"} <= set(LOOKALIKES)


@pytest.mark.parametrize(("text", "expected"), [
    ("“Hi” – it’s here…", '"Hi" - it\'s here...'),
    ("«Prix»\u00a0: 5\u202f€ — ‘promo’", '"Prix" : 5 € - \'promo\''),
    ("• one\u2028• two", "- one\n- two"),
    ("ＳＡＬＥ ５０％［ｎｏｗ］", "SALE 50%[now]"),
    ("a\u200bb\u00adc\ufeff", "abc"),
    ("x\u2212y\tz", "x-y z"),
    ("plain GSM text: é à Ñ {}", "plain GSM text: é à Ñ {}"),
])
def test_look_alikes_become_gsm(text: str, expected: str) -> None:
    assert smart_encode(text) == expected
    assert encoding_of(expected) == "GSM7"


def test_nothing_is_replaced_when_the_text_stays_ucs2() -> None:
    assert smart_encode("It’s “great” 😀") == "It’s “great” 😀"  # the emoji keeps it UCS-2: keep the typography
    assert smart_encode("Ça coûte 5 €…") == "Ça coûte 5 €…"       # û is not GSM-7 and letters are never changed
    assert replace_lookalikes("It’s 😀") == "It's 😀"


def test_a_replacement_that_would_cost_more_segments_is_not_made() -> None:
    dense = "…" * 70  # one UCS-2 segment; 210 septets as "..." would take two
    assert smart_encode(dense) == dense
    assert count(replace_lookalikes(dense)).segments == 2 and count(dense).segments == 1
    assert smart_encode("…" * 53) == "." * 159  # 159 septets: one segment either way, GSM-7 wins


def test_one_curly_apostrophe_no_longer_triples_the_cost() -> None:
    text = "a" * 159 + "’"
    assert count(text).segments == 3
    assert count(smart_encode(text)).segments == 1


LOOKALIKE_TEXT = st.text(alphabet=sorted(GSM | set(LOOKALIKES)), max_size=500)
ANY_TEXT = st.one_of(LOOKALIKE_TEXT, st.text(alphabet=sorted(set(LOOKALIKES)) + ["a", "€", "😀", "ç"], max_size=300),
                     st.text(max_size=200))


@settings(max_examples=400, deadline=None)
@given(text=ANY_TEXT)
def test_never_more_segments_and_all_or_nothing(text: str) -> None:
    result = smart_encode(text)
    assert count(result).segments <= count(text).segments
    assert result in (text, replace_lookalikes(text))
    if any(char not in GSM and char not in LOOKALIKES for char in text):
        assert result == text


@settings(max_examples=400, deadline=None)
@given(text=LOOKALIKE_TEXT)
def test_gsm_and_look_alikes_give_gsm_unless_that_costs_more(text: str) -> None:
    replaced = replace_lookalikes(text)
    assert encoding_of(replaced) == "GSM7"
    if count(replaced).segments <= count(text).segments:
        assert smart_encode(text) == replaced


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=sorted(GSM), max_size=400))
def test_gsm_text_is_left_alone(text: str) -> None:
    assert smart_encode(text) == text
