"""Why a message's media cannot be sent: a machine-readable reason for the ``rejected`` receipt and a detail."""
from __future__ import annotations

# The reasons a media failure ends in; each is final for the message (what may pass is a TransientError instead).
BLOCKED = "media_fetch_blocked"  # the URL or a redirect leads to an address a fetch must not reach
FETCH_FAILED = "media_fetch_failed"  # the server answered, but not with the media (404, bad URL, too many redirects)
TOO_LARGE = "media_too_large"  # over the download cap, or more pixels than the decompression-bomb limit
UNSUPPORTED = "unsupported_media_type"  # not a JPEG, PNG, GIF or vCard, whatever the Content-Type says
DECODE_FAILED = "media_decode_failed"  # looks like an image but does not decode (truncated, corrupt)
TOO_LARGE_AFTER_RESIZE = "media_too_large_after_resize"  # no quality or size step brings it under its byte budget


class MediaRejected(Exception):
    """A media that will never be sent as asked: ``reason`` is one of the constants above, ``detail`` says what was found."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
