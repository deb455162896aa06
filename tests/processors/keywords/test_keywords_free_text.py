"""The free-text opt-out classifier: short replies holding an opt-out word are opt-outs, unless negated."""
from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from processors.keywords.free_text import MAX_WORDS, NEGATED_AFTER, NEGATED_BEFORE, WORDS, classify
from processors.keywords.text import phrase

ALL_WORDS = frozenset().union(*WORDS.values())
ALL_NEGATIONS = frozenset().union(*NEGATED_BEFORE.values(), *NEGATED_AFTER.values())
PAIRS = sorted((language, word) for language, words in WORDS.items() for word in words)
# Filler words: plain letters, never an opt-out word or a negation of any language.
FILLER = st.text(alphabet="bcdfghjklmqrvwxz", min_size=1, max_size=8).filter(lambda w: w not in ALL_WORDS | ALL_NEGATIONS)


@pytest.mark.parametrize(("text", "preferred", "expected"), [
    ("please stop texting me", (), ("en", "stop")),
    ("Arrêtez", (), ("fr", "arretez")),
    ("arrêtez svp", ("fr",), ("fr", "arretez")),
    ("Sluta skicka", ("sv",), ("sv", "sluta")),
    ("STOPP", ("de",), ("de", "stopp")),
    ("STOPP", ("sv",), ("sv", "stopp")),  # a word two languages share is the number's language's
    ("No, stop!", (), ("en", "stop")),  # English "no" before "stop" is not a negation of it
    ("dame de baja", ("es",), ("es", "baja")),
])
def test_opt_outs(text: str, preferred: tuple[str, ...], expected: tuple[str, str]) -> None:
    found = classify(text, preferred)
    assert found is not None and (found.language, found.matched) == expected


@pytest.mark.parametrize("text", [
    "", "Hello", "don't stop", "do not stop", "n'arrêtez pas", "ne arrete", "sluta inte", "inte sluta",
    "stopped", "unstoppable", "bonjour merci", "no paren",
    "one two three four five six seven eight stop",  # past MAX_WORDS: left to the phrase patterns
])
def test_not_opt_outs(text: str) -> None:
    assert classify(text) is None


@given(st.sampled_from(PAIRS), st.lists(FILLER, max_size=MAX_WORDS - 1), st.data())
def test_an_opt_out_word_in_a_short_reply_is_an_opt_out_wherever_it_stands(pair: tuple[str, str], filler: list[str],
                                                                           data: st.DataObject) -> None:
    _language, word = pair
    at = data.draw(st.integers(0, len(filler)))
    text = " ".join([*filler[:at], data.draw(st.sampled_from([word, word.upper(), word.capitalize() + "!"])), *filler[at:]])
    found = classify(text)
    assert found is not None and found.matched == word


@given(st.sampled_from(PAIRS), st.lists(FILLER, max_size=3), st.booleans(), st.data())
def test_a_negation_of_the_words_language_right_next_to_it_cancels_it(pair: tuple[str, str], filler: list[str],
                                                                      before: bool, data: st.DataObject) -> None:
    language, word = pair
    negations = NEGATED_BEFORE[language] if before else NEGATED_AFTER[language]
    assume(negations)
    negation = data.draw(st.sampled_from(sorted(negations)))
    text = " ".join([*filler, negation, word] if before else [*filler, word, negation])
    found = classify(text)
    # Another language may still read the word as an opt-out when it does not negate with this word (stopp: sv and de).
    assert found is None or found.language != language and negation not in (NEGATED_BEFORE[found.language] if before
                                                                            else NEGATED_AFTER[found.language])


@given(st.text(max_size=80), st.lists(st.sampled_from(sorted(WORDS)), max_size=3))
def test_an_opt_out_is_only_ever_read_from_an_opt_out_word_of_a_short_text(text: str, preferred: list[str]) -> None:
    found = classify(text, preferred)
    if found is not None:
        words = phrase(text).split()
        assert found.matched in words and found.matched in WORDS[found.language] and len(words) <= MAX_WORDS


@given(st.text(alphabet=st.characters(categories=("L", "Zs", "P")), max_size=60))
def test_case_and_accents_never_change_the_answer(text: str) -> None:
    assert classify(text) == classify(text.upper()) == classify(text.lower())
