"""Pure click rules: which tokens can exist, and the receipt a click produces."""
from __future__ import annotations

from datetime import datetime

from processors.receipts import receipt
from processors.render.links import TOKEN
from processors.runtime.stage import Event, Output

STAGE = "links"


def is_token(candidate: str) -> bool:
    """Whether a path segment has a token's shape (anything else is a 404 without a lookup)."""
    return TOKEN.fullmatch(candidate) is not None


def click_receipt(link: Event, now: datetime) -> Output:
    """The non-terminal ``CLICKED`` receipt of one click on ``link`` (a ``links`` value); the detail is the URL clicked."""
    return receipt(link["context"], link["recipient"], "CLICKED", STAGE, now, detail=link["url"], channel=link["channel"])
