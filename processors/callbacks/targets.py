"""Where a message's callbacks go, decided at intake: the request's ``status_callback``, else its API key's default,
refused (422) when it cannot be signed or points inside the network.

The URL is vetted by the media fetcher's SSRF rules (``processors.web.fetch.vet``) at request time, so a caller
learns at once that ``http://10.0.0.5/hook`` will never be called; the callbacks stage vets it again before each
try (DNS may answer otherwise later).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import TransientError
from processors.rules.addresses import AllowList
from processors.web.fetch import parse_url, vet
from processors.web.media_rejected import MediaRejected
from processors.runtime.stage import Event


@dataclass(frozen=True)
class TargetRefused(Exception):
    """Why a callback URL is refused: a code for the API's problem and a sentence."""

    code: str
    message: str


def target(requested: str | None, key: Event | None, allow: AllowList) -> str | None:
    """The callback URL of a message (None: no callbacks) sent with ``key`` (its record, None without access control);
    ``TargetRefused`` for one that is not http(s), points inside the network, or cannot be signed."""
    url = requested or (key or {}).get("status_callback")
    if not url:
        return None
    if key is None:
        raise TargetRefused("callback_needs_api_key", "status callbacks are signed with the API key's callback secret: "
                                                      "send the request with an API key")
    if not key.get("callback_secret"):
        raise TargetRefused("no_callback_secret", f"API key {key['key_id']} has no callback secret yet: "
                                                  f"`courrier callbacks secret {key['key_id']}` makes one")
    try:
        vet(parse_url(url), allow)
    except MediaRejected as exc:
        raise TargetRefused("callback_url_refused", f"status_callback refused: {exc.detail}") from None
    except TransientError as exc:
        raise TargetRefused("callback_url_unresolved", f"status_callback cannot be checked now ({exc}); retry") from None
    return url
