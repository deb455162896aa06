"""The messages the simulator accepted and the count of send attempts per client reference, both bounded.

Each API keeps its own namespace of client references (an RBM ``messageId`` and an aggregator ``client_ref`` may
be equal: an RCS message and its SMS fallback). Past ``max_messages`` the oldest message is forgotten, and so is
its attempt count: a send repeated after that looks new.
"""
from __future__ import annotations

import secrets
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

PROVIDERS = ("rbm", "aggregator")


@dataclass(slots=True)
class SimMessage:
    """One accepted message as the simulator shows it on lookup."""

    id: str
    provider: str
    client_ref: str
    channel: str  # sms, mms or rcs
    to: str
    sender: str | None
    segments: int
    submitted_at: datetime
    media_urls: list[str] = field(default_factory=list)
    expires_at: datetime | None = None  # the sender's expireTime/ttl (RBM) or expire_at (aggregator): never delivered after it
    outcome: tuple[str, datetime] | None = None  # the final status drawn for it, and when it happens

    def status(self, now: datetime) -> str:
        """``accepted`` until its outcome happens, then the outcome in lower case (``delivered``, ``undelivered``…)."""
        if self.outcome is not None and now >= self.outcome[1]:
            return self.outcome[0].lower()
        return "accepted"

    def as_json(self, now: datetime) -> dict[str, object]:
        return {"id": self.id, "client_ref": self.client_ref, "status": self.status(now), "channel": self.channel, "to": self.to,
                "from": self.sender, "segments": self.segments, "media_urls": list(self.media_urls),
                "submitted_at": _iso(self.submitted_at), "expire_at": _iso(self.expires_at) if self.expires_at else None,
                "provider": self.provider}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class MessageStore:
    """Accepted messages by (provider, client_ref), oldest first, and every accepted attempt counted."""

    max_messages: int = 100_000
    _messages: OrderedDict[tuple[str, str], SimMessage] = field(default_factory=OrderedDict)
    _attempts: OrderedDict[tuple[str, str], int] = field(default_factory=OrderedDict)
    by_channel: Counter[str] = field(default_factory=Counter)
    total: int = 0
    evicted: int = 0

    def find(self, provider: str, client_ref: str) -> SimMessage | None:
        return self._messages.get((provider, client_ref))

    def submit(self, provider: str, client_ref: str, channel: str, to: str, sender: str | None, segments: int,
               now: datetime, media_urls: list[str] | None = None, expires_at: datetime | None = None) -> tuple[SimMessage, bool]:
        """The message under ``client_ref`` (True when this call created it); every call counts as one attempt."""
        key = (provider, client_ref)
        self._attempts[key] = self._attempts.get(key, 0) + 1
        self.total += 1
        self.by_channel[channel] += 1
        existing = self._messages.get(key)
        if existing is not None:
            return existing, False
        message_id = client_ref if provider == "rbm" else f"agg-{secrets.token_hex(8)}"  # RBM names a message by its messageId
        message = SimMessage(message_id, provider, client_ref, channel, to, sender, segments, now, media_urls=list(media_urls or []),
                             expires_at=expires_at)
        self._messages[key] = message
        while len(self._messages) > self.max_messages:
            old_key, _old = self._messages.popitem(last=False)
            self._attempts.pop(old_key, None)
            self.evicted += 1
        return message, True

    def submissions(self, prefix: str = "") -> dict[str, int]:
        """Accepted attempts per client reference (both APIs added up), only those starting with ``prefix``."""
        counts: dict[str, int] = {}
        for (_provider, ref), count in self._attempts.items():
            if ref.startswith(prefix):
                counts[ref] = counts.get(ref, 0) + count
        return counts

    def submissions_by_provider(self, prefix: str = "") -> dict[str, dict[str, int]]:
        by_provider: dict[str, dict[str, int]] = {p: {} for p in PROVIDERS}
        for (provider, ref), count in self._attempts.items():
            if ref.startswith(prefix):
                by_provider[provider][ref] = count
        return by_provider

    def __len__(self) -> int:
        return len(self._messages)
