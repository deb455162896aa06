"""Pure click rules: which tokens can exist, which visitors are link previewers, and the receipt a click produces.

Each short link is a button of its own: its ``CLICKED`` receipt names it in ``reason`` (``link:<token>``) and the URL
in ``detail``, so clicks are counted per link, not per message. Each click is a receipt of its own (the click's time
is part of its ``receipt_id``): repeats are counted apart from first clicks by readers (``processors.conversions.clicks``).
A GET from a known previewer or crawler (``data/preview_bots.txt``) is recorded with ``provider_status`` ``preview_bot``.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from processors.receipts import receipt
from processors.render.links import TOKEN
from processors.runtime.stage import Event, Output

STAGE = "links"
PREVIEW_BOT = "preview_bot"
BOTS_FILE = Path(__file__).parent / "data" / "preview_bots.txt"


def is_token(candidate: str) -> bool:
    """Whether a path segment has a token's shape (anything else is a 404 without a lookup)."""
    return TOKEN.fullmatch(candidate) is not None


@lru_cache(maxsize=1)
def preview_bots(path: Path = BOTS_FILE) -> tuple[str, ...]:
    """The user-agent substrings of the bots file, lower-cased (comments and blank lines left out)."""
    lines = (line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def is_preview_bot(user_agent: str | None) -> bool:
    """Whether a user agent is a known link previewer or crawler."""
    agent = (user_agent or "").lower()
    return any(bot in agent for bot in preview_bots())


def click_receipt(link: Event, now: datetime, user_agent: str | None = None) -> Output:
    """The non-terminal ``CLICKED`` receipt of one click on ``link`` (a ``links`` value): the link as ``reason``, the URL
    as ``detail``, ``preview_bot`` as ``provider_status`` for a previewer's visit."""
    return receipt(link["context"], link["recipient"], "CLICKED", STAGE, now, reason=f"link:{link['token']}", detail=link["url"],
                   channel=link["channel"], provider_status=PREVIEW_BOT if is_preview_bot(user_agent) else None,
                   event_id=f"click:{link['token']}:{now.isoformat()}")
