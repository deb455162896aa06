"""Folding: accents and case never change what a keyword is; punctuation and spacing around it do not count."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.keywords.text import compact, fold, phrase


@pytest.mark.parametrize(("raw", "folded"), [
    ("ARRÊT", "arret"), ("Arrêt", "arret"), ("HJÄLP", "hjalp"), ("ﬁn", "fin"), ("STRASSE", "strasse"), ("Straße", "strasse"),
    ("İNFO", "info"), ("ＳＴＯＰ", "stop"), ("𝐒𝐓𝐎𝐏", "stop"), ("s\u0345top", "stop"),
])
def test_fold_drops_accents_case_and_compatibility_forms(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(("raw", "compacted"), [
    ("Stop!", "stop"), ("  s.t.o.p  ", "stop"), ("Opt-out", "optout"), ("STOP ALL", "stopall"), ("«Arrêt»", "arret"),
    ("stop 🙏", "stop"), ("...", ""),
])
def test_compact_keeps_letters_and_digits_only(raw: str, compacted: str) -> None:
    assert compact(raw) == compacted


def test_phrase_makes_each_run_of_other_characters_one_space() -> None:
    assert phrase("Arrêtez de m'envoyer des SMS !!!") == "arretez de m envoyer des sms"
    assert phrase("  Please   STOP—texting me. ") == "please stop texting me"


@given(st.text())
def test_folding_is_idempotent_and_leaves_no_combining_marks(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert not any(unicodedata.combining(ch) for ch in folded)
    assert compact(compact(text)) == compact(text)
