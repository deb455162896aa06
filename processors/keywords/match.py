"""Is an inbound text a keyword, and which: exact words first (group, sender, standard), then fuzzy opt-out phrases, then a
short free text holding an opt-out word (``free_text``).

An exact keyword is the whole message: its letters and digits, folded, spell the word ("Stop!!" is
STOP, "stop by tomorrow" is not). A fuzzy phrase may sit anywhere in the message and always means
opt-out, and so does a free-text opt-out; both are flagged so people can review them.
"""
from __future__ import annotations

from dataclasses import dataclass

from processors.keywords.book import DEFAULT_LANGUAGE, KeywordBook, Word
from processors.keywords.free_text import classify
from processors.keywords.text import compact, phrase


@dataclass(frozen=True)
class Match:
    """What an inbound text asked for: ``kind`` (opt_out, opt_in, help), the language it was said in (``None`` when the
    word is not language-specific), the one group a group keyword applies to, whether it was fuzzy and what matched."""

    kind: str
    language: str | None
    group: str | None
    fuzzy: bool
    matched: str


def languages_for(book: KeywordBook, region: str | None) -> tuple[str, ...]:
    """Languages whose opt-in words apply to a number of ``region``: ``default`` and the region's own."""
    return (DEFAULT_LANGUAGE, *book.region_languages.get((region or "").upper(), ()))


def match(book: KeywordBook, text: str, sender_id: str, region: str | None) -> Match | None:
    """The keyword ``text`` is for sender ``sender_id`` from a number of ``region``, or ``None`` when it is none."""
    return _exact(book, compact(text), sender_id, region) or _fuzzy(book, text, region) or _free_text(book, text, region)


def _exact(book: KeywordBook, folded: str, sender_id: str, region: str | None) -> Match | None:
    if not folded:
        return None
    sender = book.sender(sender_id)
    for group in sender.groups:
        word = book.group_words.get(group, {}).get(folded)
        if word is not None:
            return _found(word)
    if folded in sender.words:
        return _found(sender.words[folded])
    local = languages_for(book, region)
    # The number's own languages first, so a word two languages share is answered in the recipient's.
    for language in (*local[1:], DEFAULT_LANGUAGE, *book.languages):
        word = book.languages.get(language, {}).get(folded)
        if word is None:
            continue
        if word.kind == "opt_in" and language not in local:
            return None  # a false opt-in is marketing nobody agreed to: only the number's languages count
        return _found(word)
    return None


def _found(word: Word) -> Match:
    language = None if word.language == DEFAULT_LANGUAGE else word.language
    return Match(word.kind, language, word.group, fuzzy=False, matched=word.folded)


def _fuzzy(book: KeywordBook, text: str, region: str | None) -> Match | None:
    words = phrase(text)
    local = languages_for(book, region)[1:]
    for language in dict.fromkeys((*local, *book.fuzzy)):
        for pattern in book.fuzzy.get(language, ()):
            hit = pattern.search(words)
            if hit:
                return Match("opt_out", language, None, fuzzy=True, matched=hit.group(0))
    return None


def _free_text(book: KeywordBook, text: str, region: str | None) -> Match | None:
    found = classify(text, languages_for(book, region)[1:])
    return None if found is None else Match("opt_out", found.language, None, fuzzy=True, matched=found.matched)
