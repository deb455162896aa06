"""GSM-7 / UCS-2 encoding and segmentation: the exact limits, the tables, and properties that hold for any text."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from processors.render.segments import GSM7_BASIC, GSM7_EXTENSION, LIMITS, SegmentInfo, count, split, unit_cost

# The 127 characters of the GSM 03.38 basic table (0x1B, the escape, excluded), by code point as the standard gives them.
BASIC_CODE_POINTS = [
    0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D, 0xC5, 0xE5,
    0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF, 0xC9,
    *range(0x20, 0x24), 0xA4, *range(0x25, 0x40), 0xA1, *range(0x41, 0x5B), 0xC4, 0xD6, 0xD1, 0xDC, 0xA7,
    0xBF, *range(0x61, 0x7B), 0xE4, 0xF6, 0xF1, 0xFC, 0xE0,
]


def test_tables_match_the_standard() -> None:
    assert len(BASIC_CODE_POINTS) == 127
    assert GSM7_BASIC == frozenset(map(chr, BASIC_CODE_POINTS))
    assert GSM7_EXTENSION == frozenset(map(chr, [0x0C, 0x5E, 0x7B, 0x7D, 0x5C, 0x5B, 0x7E, 0x5D, 0x7C, 0x20AC]))


@pytest.mark.parametrize(("text", "expected"), [
    ("", SegmentInfo("GSM7", 0, 1, 160, ())),
    ("a" * 160, SegmentInfo("GSM7", 160, 1, 160, ())),
    ("a" * 161, SegmentInfo("GSM7", 161, 2, 153, ())),
    ("a" * 306, SegmentInfo("GSM7", 306, 2, 153, ())),
    ("a" * 307, SegmentInfo("GSM7", 307, 3, 153, ())),
    ("€" * 80, SegmentInfo("GSM7", 160, 1, 160, ())),          # extension characters cost two septets
    ("€" * 80 + "a", SegmentInfo("GSM7", 161, 2, 153, ())),
    ("ç" * 70, SegmentInfo("UCS2", 70, 1, 70, ("ç",))),        # ç is not GSM (only Ç is)
    ("ç" * 71, SegmentInfo("UCS2", 71, 2, 67, ("ç",))),
    ("😀" * 35, SegmentInfo("UCS2", 70, 1, 70, ("😀",))),       # outside the BMP: two UTF-16 code units
    ("😀" * 36, SegmentInfo("UCS2", 72, 2, 67, ("😀",))),
    ("Prix : 5 € — «promo» ç", SegmentInfo("UCS2", 22, 1, 70, ("—", "«", "»", "ç"))),
])
def test_count(text: str, expected: SegmentInfo) -> None:
    assert count(text) == expected


def test_a_part_never_splits_an_escape_pair() -> None:
    parts = split("a" * 152 + "€" + "b" * 10)  # the € would straddle septets 153 and 154
    assert parts == ["a" * 152, "€" + "b" * 10]


def test_a_part_never_splits_a_surrogate_pair() -> None:
    parts = split("é" * 10 + "ç" * 56 + "😀" + "x" * 10)  # the emoji would straddle units 67 and 68
    assert parts == ["é" * 10 + "ç" * 56, "😀" + "x" * 10]
    assert [len(part.encode("utf-16-le")) // 2 for part in parts] == [66, 12]


def test_a_single_message_is_not_split() -> None:
    assert split("a" * 160) == ["a" * 160]


GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=800)
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
MIXED_TEXT = st.one_of(GSM_TEXT, ANY_TEXT, st.text(alphabet=sorted(GSM7_EXTENSION) + ["a", "😀", "ç"], max_size=400))


def units(text: str, encoding: str) -> int:
    return sum(unit_cost(c, encoding) for c in text)


@settings(max_examples=400, deadline=None)
@given(text=MIXED_TEXT)
def test_split_properties(text: str) -> None:
    info = count(text)
    parts = split(text)
    assert "".join(parts) == text
    assert info.segments == len(parts)
    single, per_part = LIMITS[info.encoding]
    limit = single if len(parts) == 1 else per_part
    assert all(units(part, info.encoding) <= limit for part in parts)
    assert sum(units(part, info.encoding) for part in parts) == info.units
    if len(parts) > 1:
        assert all(part for part in parts)  # no empty part in a concatenated message
        # greedy: a part only ends when the next character would not fit
        assert all(units(a, info.encoding) + unit_cost(b[0], info.encoding) > per_part for a, b in zip(parts, parts[1:]))


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT)
def test_ucs2_units_are_utf16_code_units(text: str) -> None:
    info = count(text)
    if info.encoding == "UCS2":
        assert info.units == len(text.encode("utf-16-le")) // 2
        assert set(info.ucs2_triggers) == {c for c in text if c not in GSM7_BASIC | GSM7_EXTENSION}
    else:
        assert info.ucs2_triggers == ()
        assert info.units == len(text) + sum(c in GSM7_EXTENSION for c in text)
