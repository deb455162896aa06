"""Courrier's RCS content (``processors.rules.rcs`` shapes) as an RBM ``AgentMessage``.

text message → ``contentMessage.text`` with its suggestions; rich card → ``richCard.standaloneCard`` (its
suggestions on the card); carousel → ``richCard.carouselCard`` (message suggestions beside it); a card's media →
``media.contentInfo.fileUrl``. Suggestions: reply → ``reply``, open_url → ``action.openUrlAction``, dial →
``action.dialAction`` (AgentContentMessage and Suggestion in RBM's REST reference, phones.agentMessages).

Every suggestion's ``postbackData`` names the message and the button (``postback``/``read_postback``, ``processors.rules.buttons``): RBM's
``suggestionResponse`` names neither the message it belongs to nor the button otherwise, and a click must be
attributed to its message. Without a message id (the simulator's path) the postback data is the suggestion's text.

The expiration is ``expireTime`` (the message's ``expires_at``), not ``ttl``: an absolute time keeps the same body
when a lost answer makes us resend the same messageId, and does not stretch by the time the request took.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from processors.rules.buttons import postback_data, read_postback  # noqa: F401 (read_postback: re-exported for the webhook)

# A suggestion's postback data, built from its position among the message's suggestions (0-based) and its text.
Postback = Callable[[int, str], str]


class BadRcsContent(ValueError):
    """The RCS content is not one of render's shapes."""


def postback(rbm_message_id: str) -> Postback:
    """Postback data for the suggestions of message ``rbm_message_id``: ``courrier:<message id>/<button number>``."""
    return lambda index, _text: postback_data(rbm_message_id, index)


def agent_message(rcs_json: str | None, fallback_text: str, expires_at: datetime | None, tag: Postback | None = None) -> dict[str, Any]:
    """The ``AgentMessage`` request body: the content, and ``expireTime`` when the message has a validity end."""
    body: dict[str, Any] = {"contentMessage": content_message(rcs_json, fallback_text, tag)}
    if expires_at is not None:
        body["expireTime"] = rfc3339(expires_at)
    return body


def rfc3339(moment: datetime) -> str:
    """A UTC timestamp as Google's APIs write them: ``2026-03-02T09:00:00.000Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def content_message(rcs_json: str | None, fallback_text: str, tag: Postback | None = None) -> dict[str, Any]:
    """The ``contentMessage`` for a send: the rendered RCS content, or a plain text message when there is none."""
    if rcs_json is None:
        return {"text": fallback_text}
    try:
        rcs = json.loads(rcs_json)
    except ValueError as exc:
        raise BadRcsContent(f"rcs_json is not JSON: {exc}") from exc
    if not isinstance(rcs, dict):
        raise BadRcsContent("rcs_json must be an object")
    buttons = _Buttons(tag)
    if "carousel" in rcs:
        cards = [_card(c, buttons) for c in _list(rcs, "carousel")]
        content: dict[str, Any] = {"richCard": {"carouselCard": {"cardWidth": "MEDIUM", "cardContents": cards}}}
    elif "text" in rcs:
        content = {"text": str(rcs["text"])}
    else:
        card = _card(rcs, buttons)
        return {"richCard": {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": card}}}
    message_suggestions = [buttons.suggestion(s) for s in _list(rcs, "suggestions")]
    if message_suggestions:
        content["suggestions"] = message_suggestions
    return content


class _Buttons:
    """Numbers a message's suggestions in the order they are written and gives each its postback data."""

    def __init__(self, tag: Postback | None) -> None:
        self._tag = tag
        self._numbers: Iterator[int] = itertools.count()

    def suggestion(self, suggestion: Any) -> dict[str, Any]:
        if not isinstance(suggestion, dict) or not isinstance(suggestion.get("text"), str):
            raise BadRcsContent("a suggestion must be an object with a text")
        text, kind = suggestion["text"], suggestion.get("type")
        data = self._tag(next(self._numbers), text) if self._tag is not None else text
        if kind == "reply":
            return {"reply": {"text": text, "postbackData": data}}
        if kind == "open_url":
            return {"action": {"text": text, "postbackData": data, "openUrlAction": {"url": str(suggestion.get("url"))}}}
        if kind == "dial":
            return {"action": {"text": text, "postbackData": data, "dialAction": {"phoneNumber": str(suggestion.get("phone_number"))}}}
        raise BadRcsContent(f"unknown suggestion type {kind!r}")


def _card(card: Any, buttons: _Buttons) -> dict[str, Any]:
    if not isinstance(card, dict):
        raise BadRcsContent("a card must be an object")
    content: dict[str, Any] = {key: str(card[key]) for key in ("title", "description") if card.get(key)}
    if card.get("media_url"):
        content["media"] = {"height": "MEDIUM", "contentInfo": {"fileUrl": str(card["media_url"])}}
    if not content:
        raise BadRcsContent("a card needs a title, a description or media")
    suggestions = [buttons.suggestion(s) for s in _list(card, "suggestions")]
    if suggestions:
        content["suggestions"] = suggestions
    return content


def _list(table: dict[str, Any], key: str) -> list[Any]:
    value = table.get(key) or []
    if not isinstance(value, list):
        raise BadRcsContent(f"{key} must be a list")
    return value
