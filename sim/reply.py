"""What a simulated provider answers (``Reply``), and Google's error shape, which RBM and the legacy RBM-shaped routes share.

Google APIs answer errors as ``{"error": {"code": <HTTP status>, "message": …, "status": "NOT_FOUND"}}``
(cloud.google.com/apis/design/errors); the OAuth token endpoint has its own ``{"error", "error_description"}`` shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """An answer to give: status, body (JSON, or form/text when ``media_type`` says so), extra headers, and seconds
    to wait before giving it (a lost answer: the client's timeout runs out first)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    hold_s: float = 0.0

    def held(self, seconds: float) -> Reply:
        """The same answer, given ``seconds`` late."""
        return Reply(self.status, self.body, self.headers, seconds)


def google_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An error in Google's shape: ``{"error": {"code": 404, "message": …, "status": "NOT_FOUND"}}``."""
    return Reply(status, {"error": {"code": status, "message": message, "status": code}}, headers or {})


def aggregator_error(status: int, code: str, message: str) -> Reply:
    """An error of the legacy aggregator API: ``{"error": {"code": "invalid_number", "message": …}}``."""
    return Reply(status, {"error": {"code": code, "message": message}})
