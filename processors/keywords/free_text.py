"""Opt-outs by any reasonable means (FCC, 2024): a short free-text reply holding an opt-out word is an opt-out.

The keyword book answers whole-message keywords (``STOP``) and longer phrases (``please stop texting me``);
this classifier catches what is left that still reads as "stop": ``Arrêtez !``, ``STOP STOP``, ``stop please``,
``sluta nu``. The rule is deliberately conservative, since an unwanted opt-out costs a confirmation text while a
missed one costs a violation: a message of at most ``MAX_WORDS`` words holding one of ``WORDS`` (folded, as a
whole word) is an opt-out, unless a negation stands right before it or right after it (``don't stop``,
``n'arrêtez pas``, ``sluta inte``). Every such opt-out is flagged for review (``needs_review``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from processors.keywords.text import phrase

MAX_WORDS = 8
# Opt-out words per language, folded (no accents, lower case). Only words whose everyday meaning in a reply to a
# business text is "stop": `end`, `quit` or `cancel` ("cancel my order") stay whole-message keywords only.
WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"stop", "stopall", "unsubscribe", "optout", "unsub"}),
    "fr": frozenset({"arret", "arrete", "arretez", "arreter", "stoppez", "stopper", "desabonner", "desabonnez",
                     "desinscrire", "desinscrivez", "desinscription"}),
    "sv": frozenset({"sluta", "stopp", "stoppa", "avsluta", "avregistrera"}),
    "es": frozenset({"baja", "parad", "paren", "desuscribir", "desuscribirme"}),
    "de": frozenset({"stopp", "abmelden", "abbestellen", "aufhoren"}),
}
# Negations of each language, before the word (`don t stop`, `n arretez`, `inte sluta`) and after it (`arretez pas`,
# `sluta inte`, `hor nicht auf`); checked in the language of the opt-out word only (English `no, stop` is a stop).
NEGATED_BEFORE: dict[str, frozenset[str]] = {
    "en": frozenset({"dont", "don", "t", "not", "never", "cant", "wont", "didnt"}),
    "fr": frozenset({"n", "ne"}),
    "sv": frozenset({"inte", "aldrig", "ej"}),
    "es": frozenset({"no", "nunca"}),
    "de": frozenset({"nicht", "nie", "kein"}),
}
NEGATED_AFTER: dict[str, frozenset[str]] = {
    "en": frozenset(),
    "fr": frozenset({"pas", "jamais"}),
    "sv": frozenset({"inte", "aldrig", "ej"}),
    "es": frozenset(),
    "de": frozenset({"nicht", "nie"}),
}
BEFORE, AFTER = 2, 1  # how far from the word a negation still negates it


@dataclass(frozen=True)
class FreeTextOptOut:
    """An opt-out read from free text: the language of the word that decided it and the word as matched (folded)."""

    language: str
    matched: str


def classify(text: str, preferred: Iterable[str] = ()) -> FreeTextOptOut | None:
    """The opt-out ``text`` expresses, or None; ``preferred`` languages (the number's) are tried first, so a word two
    languages share (``stopp``) is reported in the recipient's."""
    words = phrase(text).split()
    if not words or len(words) > MAX_WORDS:
        return None
    order = list(dict.fromkeys((*(p for p in preferred if p in WORDS), *WORDS)))
    for index, word in enumerate(words):
        for language in order:
            if word in WORDS[language] and not negated(words, index, language):
                return FreeTextOptOut(language, word)
    return None


def negated(words: list[str], index: int, language: str) -> bool:
    """Whether a negation of ``language`` stands within ``BEFORE`` words before ``words[index]`` or ``AFTER`` after it."""
    return bool(NEGATED_BEFORE[language] & set(words[max(0, index - BEFORE):index])
                or NEGATED_AFTER[language] & set(words[index + 1:index + 1 + AFTER]))
