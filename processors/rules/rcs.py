"""The RCS section of a template and its limits: a text message, a rich card or a carousel, with suggestions.

Shapes (the rendered section is sent as this JSON in ``rcs_json``)::

    text message  {text, suggestions?}                              suggestions: the message's chips, at most 11
    rich card     {title?, description?, media_url?, suggestions?}   suggestions: the card's, at most 4
    carousel      {carousel: [card, …], suggestions?}                2–10 cards of at most 4 suggestions each,
                                                                     and at most 11 for the message
    suggestion    {type = "reply", text} | {type = "open_url", text, url} | {type = "dial", text, phone_number}

A card has at least one of title, description and media. Lengths (text 2,000 characters as the
product docs we follow say, title 200, description 2,000, suggestion text 25) are characters (code
points) of the rendered values: a variable can make a text too long, so they are checked after
rendering; shape and counts do not depend on variables and are checked on the template too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from processors.rules.issues import Issue

TEXT_KEYS = frozenset({"text", "suggestions"})
CARD_CONTENT_KEYS = frozenset({"title", "description", "media_url"})
CARD_KEYS = CARD_CONTENT_KEYS | {"suggestions"}
CAROUSEL_KEYS = frozenset({"carousel", "suggestions"})
# The keys each suggestion type takes; all of them are required.
SUGGESTION_KEYS = {"reply": frozenset({"type", "text"}), "open_url": frozenset({"type", "text", "url"}),
                   "dial": frozenset({"type", "text", "phone_number"})}
SUGGESTION_TYPES = frozenset(SUGGESTION_KEYS)


@dataclass(frozen=True)
class RcsLimits:
    """The limits RCS content must fit; ``text`` is a setting because providers differ (RBM itself takes more)."""

    text: int = 2000
    title: int = 200
    description: int = 2000
    carousel_min: int = 2
    carousel_max: int = 10
    message_suggestions: int = 11
    card_suggestions: int = 4
    suggestion_text: int = 25


DEFAULT_LIMITS = RcsLimits()


def rcs_problems(rcs: Any, limits: RcsLimits, *, rendered: bool) -> list[Issue]:
    """Every problem of an RCS section: shape and counts always; lengths, empty texts and URLs when ``rendered``."""
    check = _Checker(limits, rendered)
    check.section(rcs)
    return check.issues


class _Checker:
    """Collects issues while walking one section (a small class so the walk does not thread a list everywhere)."""

    def __init__(self, limits: RcsLimits, rendered: bool) -> None:
        self.limits, self.rendered, self.issues = limits, rendered, []

    def add(self, path: str, message: str, too_long: bool = False) -> None:
        self.issues.append(Issue(path, message, too_long))

    def section(self, rcs: Any) -> None:
        if not isinstance(rcs, dict):
            self.add("rcs", "must be a table")
            return
        if "carousel" in rcs:
            self.keys(rcs, "rcs", CAROUSEL_KEYS, "an RCS carousel")
            self.carousel(rcs["carousel"])
            self.suggestions(rcs.get("suggestions"), "rcs.suggestions", self.limits.message_suggestions)
        elif "text" in rcs:
            self.keys(rcs, "rcs", TEXT_KEYS, "an RCS text message")
            self.text(rcs["text"], "rcs.text", self.limits.text)
            self.suggestions(rcs.get("suggestions"), "rcs.suggestions", self.limits.message_suggestions)
        elif set(rcs) & CARD_CONTENT_KEYS:
            self.card(rcs, "rcs", "an RCS rich card")
        else:
            self.add("rcs", "needs `text` (a text message), `title`, `description` or `media_url` (a rich card), or `carousel`")

    def keys(self, table: dict[str, Any], path: str, allowed: frozenset[str], what: str) -> None:
        for key in sorted(set(table) - allowed):
            self.add(f"{path}.{key}", f"unknown key: {what} takes {', '.join(sorted(allowed))}")

    def carousel(self, cards: Any) -> None:
        if not isinstance(cards, list) or not all(isinstance(card, dict) for card in cards):
            self.add("rcs.carousel", "must be a list of cards ([[rcs.carousel]] tables)")
            return
        low, high = self.limits.carousel_min, self.limits.carousel_max
        if not low <= len(cards) <= high:
            self.add("rcs.carousel", f"{len(cards)} card{'' if len(cards) == 1 else 's'}; a carousel has {low} to {high}")
        for index, card in enumerate(cards):
            self.card(card, f"rcs.carousel[{index}]", "a carousel card")

    def card(self, card: dict[str, Any], path: str, what: str) -> None:
        self.keys(card, path, CARD_KEYS, what)
        present = [key for key in ("title", "description", "media_url") if key in card]
        if not present:
            self.add(path, "a card needs a title, a description or a media_url")
        if "title" in card:
            self.text(card["title"], f"{path}.title", self.limits.title, required=False)
        if "description" in card:
            self.text(card["description"], f"{path}.description", self.limits.description, required=False)
        if "media_url" in card:
            self.url(card["media_url"], f"{path}.media_url")
        if self.rendered and present and all(isinstance(card[k], str) and not card[k].strip() for k in present):
            self.add(path, "the card renders empty (no title, description or media)")
        self.suggestions(card.get("suggestions"), f"{path}.suggestions", self.limits.card_suggestions)

    def suggestions(self, suggestions: Any, path: str, most: int) -> None:
        if suggestions is None:
            return
        if not isinstance(suggestions, list):
            self.add(path, "must be a list of suggestions")
            return
        if len(suggestions) > most:
            self.add(path, f"{len(suggestions)} suggestions; at most {most} here")
        for index, suggestion in enumerate(suggestions):
            self.suggestion(suggestion, f"{path}[{index}]")

    def suggestion(self, suggestion: Any, path: str) -> None:
        if not isinstance(suggestion, dict):
            self.add(path, "must be a table {type, text, …}")
            return
        kind = suggestion.get("type")
        if kind not in SUGGESTION_TYPES:
            self.add(f"{path}.type", f"an RCS suggestion's type is one of {', '.join(sorted(SUGGESTION_TYPES))}, not {kind!r}")
            return
        allowed = SUGGESTION_KEYS[kind]
        self.keys(suggestion, path, allowed, f"a {kind} suggestion")
        for key in sorted(allowed - set(suggestion)):
            self.add(f"{path}.{key}", f"missing: an RCS suggestion of type {kind} needs {', '.join(sorted(allowed - {'type'}))}")
        if "text" in suggestion:
            self.text(suggestion["text"], f"{path}.text", self.limits.suggestion_text)
        if "url" in suggestion:
            self.url(suggestion["url"], f"{path}.url")
        if "phone_number" in suggestion:
            self.text(suggestion["phone_number"], f"{path}.phone_number", None)

    def text(self, value: Any, path: str, most: int | None, required: bool = True) -> None:
        if not isinstance(value, str):
            self.add(path, "must be a string")
        elif self.rendered and required and not value.strip():
            self.add(path, "renders empty")
        elif self.rendered and most is not None and len(value) > most:
            self.add(path, f"{len(value)} characters; the limit is {most}", too_long=True)

    def url(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.add(path, "must be a string")
        elif self.rendered and not is_web_url(value):
            self.add(path, f"must be an http(s) URL, not {value[:80]!r}")


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
