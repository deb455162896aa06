"""``GET /v1/messages/{message_id}`` and ``GET /v1/campaigns/{campaign_id}``, mounted on the HTTP intake.

A message is shown to the API key that sent it and to ``admin`` keys (another key gets the same 404 as for an unknown
id, so ids of other callers' messages cannot be probed); a message no key sent (a campaign, a tool) to any key with
the scope. A
message or campaign with no receipt yet is a 404 too: the status stage writes a row on the first receipt.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Path, Request

from processors.access.scopes import ADMIN
from processors.runtime.stage import Event
from processors.status.models import CampaignStatusBody, MessageStatusBody
from processors.status.reader import StatusReader
from processors.status.views import campaign_body, message_body, visible_to
from processors.web.errors import ApiError, ErrorBody
from processors.web.requests import api_key_id

# The intake's route(method, path, endpoint, **options), which puts each route behind the scope SCOPES names.
AddRoute = Callable[..., None]
_NOT_FOUND = {404: {"model": ErrorBody, "description": "No such id, or nothing received about it yet (not_found)."}}
MAX_ID = 128


def add_routes(route: AddRoute, reader: StatusReader, keys: Callable[[str | None], Event | None] | None = None) -> None:
    """Mount both routes through the app's ``route`` (its guard, its scopes); ``keys`` finds a caller's key record
    (None without access control), so ``admin`` keys read every message."""

    def get_message(request: Request, message_id: str = Path(min_length=1, max_length=MAX_ID)) -> MessageStatusBody:
        """A message's current status, channel, fallback, segments, cost and receipt history."""
        row = reader.message(message_id)
        key_id = api_key_id(request)
        record = keys(key_id) if keys is not None and row is not None else None
        if row is None or not visible_to(row, key_id, admin=ADMIN in ((record or {}).get("scopes") or ())):
            raise ApiError(404, "not_found", f"no message {message_id!r} with a receipt yet")
        return message_body(row)

    def get_campaign(campaign_id: str = Path(min_length=1, max_length=MAX_ID)) -> CampaignStatusBody:
        """A campaign's counts: messages by current status, receipts by variant, status and channel, cost and segments."""
        body = campaign_body(campaign_id, reader.campaign(campaign_id))
        if body is None:
            raise ApiError(404, "not_found", f"no campaign {campaign_id!r} with a receipt yet")
        return body

    options: dict[str, Any] = {"responses": _NOT_FOUND}
    route("GET", "/v1/messages/{message_id}", get_message, response_model=MessageStatusBody, **options)
    route("GET", "/v1/campaigns/{campaign_id}", get_campaign, response_model=CampaignStatusBody, **options)
