"""Keyword rules: exact words per language and kind, custom words per sender and group, fuzzy opt-outs, and what is none."""
from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from processors.keywords.book import DEFAULT_PATH, KeywordBook
from processors.keywords.match import Match, languages_for, match
from processors.keywords.text import compact, phrase

RAW = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
# Every standard word of the file as (language, kind, text as written there).
STANDARD = [(language, kind, text) for language, table in RAW["keywords"].items() for kind, words in table.items() for text in words]
# A region whose numbers may use each language's opt-in words.
REGION_OF = {"default": "FR", "en": "US", "fr": "FR", "sv": "SE", "es": "ES", "de": "DE"}
ALL_WORDS = {compact(text) for _language, _kind, text in STANDARD} | {
    compact(text) for table in RAW["groups"].values() for words in table.values() for text in words} | {
    compact(text) for sender in RAW["senders"].values() for words in sender.get("keywords", {}).values() for text in words}
AROUND = st.text(alphabet=" \t\n.,;:!?¡¿-–—«»\"'()[]…*🙏😡", max_size=6)


@pytest.mark.parametrize(("text", "kind"), [
    ("STOP", "opt_out"), ("stopall", "opt_out"), ("Unsubscribe", "opt_out"), ("cancel", "opt_out"), ("END", "opt_out"),
    ("quit", "opt_out"), ("REVOKE", "opt_out"), ("opt-out", "opt_out"), ("OPT OUT", "opt_out"), ("Stop all", "opt_out"),
    ("arret", "opt_out"), ("Arrêt !", "opt_out"), ("STOPP", "opt_out"), ("baja", "opt_out"), ("Avsluta", "opt_out"),
    ("START", "opt_in"), ("unstop", "opt_in"),
    ("HELP", "help"), ("info?", "help"), ("Aide", "help"), ("hjälp", "help"), ("HJALP", "help"),
])
def test_standard_keywords(book: KeywordBook, text: str, kind: str) -> None:
    found = match(book, text, "36180", "FR")
    assert found is not None and (found.kind, found.fuzzy, found.group) == (kind, False, None)


def test_a_word_of_one_language_is_answered_in_that_language(book: KeywordBook) -> None:
    assert match(book, "Arrêt", "36180", "FR").language == "fr"
    assert match(book, "HJÄLP", "36180", "FR").language == "sv"
    assert match(book, "STOP", "36180", "FR").language is None  # render picks the number's country language
    # STOPP is Swedish and German: a Swedish number is answered in Swedish, a German one in German.
    assert match(book, "stopp", "36180", "SE").language == "sv"
    assert match(book, "stopp", "36180", "DE").language == "de"


def test_opt_in_words_count_only_in_the_numbers_languages(book: KeywordBook) -> None:
    assert match(book, "yes", "12345", "US") == Match("opt_in", "en", None, False, "yes")
    assert match(book, "YES", "36180", "FR") is None  # a French number's "yes" is not consent
    assert match(book, "Oui", "36180", "FR") is None  # deliberately no opt-in in French (see the data file)
    assert match(book, "START", "36180", "FR").kind == "opt_in"  # the default words apply everywhere
    assert languages_for(book, "fr") == ("default", "fr") and languages_for(book, None) == ("default",)


def test_opt_out_and_help_words_of_every_language_apply_to_every_number(book: KeywordBook) -> None:
    assert match(book, "BAJA", "12345", "SE").kind == "opt_out"
    assert match(book, "AIDE", "12345", "US").kind == "help"
    assert match(book, "arret", "12345", None).kind == "opt_out"


def test_group_keywords_apply_to_their_group_on_senders_that_list_it(book: KeywordBook) -> None:
    assert match(book, "stop promo", "36180", "FR") == Match("opt_out", None, "promotions", False, "stoppromo")
    assert match(book, "NEWS", "36180", "FR") == Match("opt_in", None, "newsletter", False, "news")
    assert match(book, "STOPDEALS", "12345", "US").group == "us-deals"
    assert match(book, "STOPDEALS", "36180", "FR") is None  # the French short code does not carry us-deals


def test_sender_keywords_apply_to_that_sender_only(book: KeywordBook) -> None:
    assert match(book, "join", "12345", "US") == Match("opt_in", None, None, False, "join")
    assert match(book, "join", "36180", "US") is None
    assert match(book, "Inscription", "36180", "FR").kind == "opt_in"


def test_an_unknown_sender_uses_the_default_entry(book: KeywordBook) -> None:
    assert book.sender("+33999999999") == book.senders["default"]
    assert match(book, "STOPNEWS", "+33999999999", "FR").group == "newsletter"


@pytest.mark.parametrize(("text", "language"), [
    ("please stop texting me", "en"), ("Stop sending me these!!", "en"), ("Don't text me again", "en"),
    ("unsubscribe me please", "en"), ("take me off your list", "en"), ("no more messages thanks", "en"),
    ("Arrêtez de m'envoyer des SMS", "fr"), ("arrête de m’écrire", "fr"), ("Désabonnez-moi svp", "fr"),
    ("je veux me désinscrire", "fr"), ("Plus de SMS merci", "fr"),
    ("Sluta skicka sms till mig", "sv"), ("avregistrera mig", "sv"), ("inga fler sms tack", "sv"),
    ("Dejen de enviarme mensajes", "es"), ("quiero darme de baja", "es"),
    ("Keine SMS mehr bitte", "de"),
])
def test_fuzzy_opt_outs_are_opt_outs_flagged_fuzzy(book: KeywordBook, text: str, language: str) -> None:
    found = match(book, text, "36180", "FR")
    assert found is not None and (found.kind, found.fuzzy, found.language) == ("opt_out", True, language)
    assert found.matched and found.matched in phrase(text)


@pytest.mark.parametrize("text", [
    "", "   ", "!!!", "Hello World", "thanks, see you at the end", "Help me with my order",
    "don't stop texting me", "do not stop sending me deals", "oui merci", "yes please", "I will start tomorrow",
    "Where is my parcel?", "stopped", "n'arrêtez pas", "I could not stop laughing when I read your message yesterday",
])
def test_other_texts_are_not_keywords(book: KeywordBook, text: str) -> None:
    assert match(book, text, "36180", "FR") is None


@pytest.mark.parametrize(("text", "language", "word"), [
    ("Arrêtez !", "fr", "arretez"), ("STOP STOP", "en", "stop"), ("stop please", "en", "stop"), ("sluta nu", "sv", "sluta"),
    # Conservative on purpose: an opt-out word in a short reply counts (FCC 2024); the review list catches the odd one.
    ("stop by the shop tomorrow?", "en", "stop"),
])
def test_short_free_texts_with_an_opt_out_word_are_opt_outs_flagged_fuzzy(book: KeywordBook, text: str, language: str,
                                                                          word: str) -> None:
    found = match(book, text, "36180", "FR")
    assert found is not None and (found.kind, found.fuzzy, found.language, found.matched) == ("opt_out", True, language, word)


def _disguise(draw: st.DrawFn, word: str) -> str:
    """``word`` with each letter in a random case and, now and then, a random accent."""
    out = []
    for ch in word:
        ch = ch.upper() if draw(st.booleans()) else ch.lower()
        if ch.isalpha() and draw(st.integers(0, 3)) == 0:
            ch += chr(draw(st.integers(0x300, 0x36F)))
        out.append(ch)
    return "".join(out)


@st.composite
def disguised_keyword(draw: st.DrawFn) -> tuple[str, str, str]:
    language, kind, text = draw(st.sampled_from(STANDARD))
    return language, kind, draw(AROUND) + _disguise(draw, text) + draw(AROUND)


@given(disguised_keyword())
def test_any_case_accents_and_punctuation_around_a_keyword_still_match(book: KeywordBook, case: tuple[str, str, str]) -> None:
    language, kind, text = case
    found = match(book, text, "36180", REGION_OF[language])
    assert found is not None and found.kind == kind and not found.fuzzy


@given(st.text(max_size=40))
def test_random_text_is_an_exact_keyword_only_when_it_spells_one(book: KeywordBook, text: str) -> None:
    found = match(book, text, "36180", "FR")
    if compact(text) not in ALL_WORDS:
        assert found is None or found.fuzzy


@given(st.sampled_from(STANDARD), st.text(alphabet=st.characters(categories=("L", "Nd")), min_size=1, max_size=12), st.booleans())
def test_a_keyword_with_other_words_is_never_an_exact_keyword(book: KeywordBook, case: tuple[str, str, str], other: str,
                                                              before: bool) -> None:
    _language, _kind, text = case
    message = f"{other} {text}" if before else f"{text} {other}"
    assume(compact(message) not in ALL_WORDS)
    found = match(book, message, "36180", "FR")
    assert found is None or found.fuzzy and found.kind == "opt_out"
