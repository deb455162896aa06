"""Courrier's RCS content (``processors.render.rcs`` shapes) as an RBM ``contentMessage``.

text message → ``{text, suggestions}``; rich card → ``richCard.standaloneCard`` (its suggestions on the card);
carousel → ``richCard.carouselCard`` (message suggestions beside it). Suggestions: reply → ``reply``, open_url →
``action.openUrlAction``, dial → ``action.dialAction``; the postback data is the suggestion's text.
"""
from __future__ import annotations

import json
from typing import Any


class BadRcsContent(ValueError):
    """The RCS content is not one of render's shapes."""


def content_message(rcs_json: str | None, fallback_text: str) -> dict[str, Any]:
    """The ``contentMessage`` for a send: the rendered RCS content, or a plain text message when there is none."""
    if rcs_json is None:
        return {"text": fallback_text}
    try:
        rcs = json.loads(rcs_json)
    except ValueError as exc:
        raise BadRcsContent(f"rcs_json is not JSON: {exc}") from exc
    if not isinstance(rcs, dict):
        raise BadRcsContent("rcs_json must be an object")
    message_suggestions = [_suggestion(s) for s in _list(rcs, "suggestions")]
    if "carousel" in rcs:
        cards = [_card(c) for c in _list(rcs, "carousel")]
        content: dict[str, Any] = {"richCard": {"carouselCard": {"cardWidth": "MEDIUM", "cardContents": cards}}}
    elif "text" in rcs:
        content = {"text": str(rcs["text"])}
    else:
        card = _card(rcs)
        return {"richCard": {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": card}}}
    if message_suggestions:
        content["suggestions"] = message_suggestions
    return content


def _card(card: Any) -> dict[str, Any]:
    if not isinstance(card, dict):
        raise BadRcsContent("a card must be an object")
    content: dict[str, Any] = {key: str(card[key]) for key in ("title", "description") if card.get(key)}
    if card.get("media_url"):
        content["media"] = {"height": "MEDIUM", "contentInfo": {"fileUrl": str(card["media_url"])}}
    if not content:
        raise BadRcsContent("a card needs a title, a description or media")
    suggestions = [_suggestion(s) for s in _list(card, "suggestions")]
    if suggestions:
        content["suggestions"] = suggestions
    return content


def _suggestion(suggestion: Any) -> dict[str, Any]:
    if not isinstance(suggestion, dict) or not isinstance(suggestion.get("text"), str):
        raise BadRcsContent("a suggestion must be an object with a text")
    text, kind = suggestion["text"], suggestion.get("type")
    if kind == "reply":
        return {"reply": {"text": text, "postbackData": text}}
    if kind == "open_url":
        return {"action": {"text": text, "postbackData": text, "openUrlAction": {"url": str(suggestion.get("url"))}}}
    if kind == "dial":
        return {"action": {"text": text, "postbackData": text, "dialAction": {"phoneNumber": str(suggestion.get("phone_number"))}}}
    raise BadRcsContent(f"unknown suggestion type {kind!r}")


def _list(table: dict[str, Any], key: str) -> list[Any]:
    value = table.get(key) or []
    if not isinstance(value, list):
        raise BadRcsContent(f"{key} must be a list")
    return value
