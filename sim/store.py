"""The messages the simulator accepted and the count of send attempts per client reference, both bounded.

Each API keeps its own namespace of references: an RBM ``messageId``, a legacy aggregator ``client_ref`` (an RCS
message and its SMS fallback may share one) and a Twilio message SID (Twilio takes no reference of ours, so a Twilio
message is known by the SID it was given). Past ``max_messages`` the oldest message is forgotten, and so is its
attempt count: a send repeated after that looks new.
"""
from __future__ import annotations

import secrets
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

PROVIDERS = ("rbm", "aggregator", "twilio")


@dataclass(slots=True)
class SimMessage:
    """One accepted message: what was asked, how it ends (drawn when accepted) and whether it was revoked."""

    id: str
    provider: str
    client_ref: str
    channel: str  # sms, mms or rcs
    to: str
    sender: str | None
    segments: int
    submitted_at: datetime
    media_urls: list[str] = field(default_factory=list)
    expires_at: datetime | None = None  # the sender's expireTime/ttl (RBM), expire_at (aggregator), ValidityPeriod (Twilio)
    outcome: tuple[str, datetime] | None = None  # the final status drawn for it, and when it happens
    text: str = ""
    agent_id: str | None = None  # RBM through the real API (OAuth): its events go out in RBM's shape; None: legacy shape
    status_callback: str | None = None  # Twilio: where its status callbacks go
    messaging_service_sid: str | None = None  # Twilio: sent through a Messaging Service rather than From
    revoked: bool = False  # RBM: revoked before delivery; none of its events are posted any more

    def status(self, now: datetime) -> str:
        """``accepted`` until its outcome happens, then the outcome in lower case (``delivered``, ``undelivered``…);
        ``revoked`` once revoked."""
        if self.revoked:
            return "revoked"
        if self.outcome is not None and now >= self.outcome[1]:
            return self.outcome[0].lower()
        return "accepted"

    def as_json(self, now: datetime) -> dict[str, object]:
        """The legacy lookup's view of the message."""
        return {"id": self.id, "client_ref": self.client_ref, "status": self.status(now), "channel": self.channel, "to": self.to,
                "from": self.sender, "segments": self.segments, "media_urls": list(self.media_urls),
                "submitted_at": _iso(self.submitted_at), "expire_at": _iso(self.expires_at) if self.expires_at else None,
                "provider": self.provider}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class MessageStore:
    """Accepted messages by (provider, reference), oldest first, and every accepted attempt counted."""

    max_messages: int = 100_000
    _messages: OrderedDict[tuple[str, str], SimMessage] = field(default_factory=OrderedDict)
    _attempts: OrderedDict[tuple[str, str], int] = field(default_factory=OrderedDict)
    by_channel: Counter[str] = field(default_factory=Counter)
    total: int = 0
    evicted: int = 0

    def find(self, provider: str, client_ref: str) -> SimMessage | None:
        return self._messages.get((provider, client_ref))

    def submit(self, provider: str, client_ref: str, channel: str, to: str, sender: str | None, segments: int,
               now: datetime, media_urls: list[str] | None = None, expires_at: datetime | None = None, *,
               text: str = "", agent_id: str | None = None, status_callback: str | None = None,
               messaging_service_sid: str | None = None) -> tuple[SimMessage, bool]:
        """The message under ``client_ref`` (True when this call created it); every call counts as one attempt.
        RBM and Twilio name a message by its reference (the ``messageId``, the SID); the legacy aggregator makes an id."""
        key = (provider, client_ref)
        self._attempts[key] = self._attempts.get(key, 0) + 1
        self.total += 1
        self.by_channel[channel] += 1
        existing = self._messages.get(key)
        if existing is not None:
            return existing, False
        message_id = f"agg-{secrets.token_hex(8)}" if provider == "aggregator" else client_ref
        message = SimMessage(message_id, provider, client_ref, channel, to, sender, segments, now, media_urls=list(media_urls or []),
                             expires_at=expires_at, text=text, agent_id=agent_id, status_callback=status_callback,
                             messaging_service_sid=messaging_service_sid)
        self._messages[key] = message
        while len(self._messages) > self.max_messages:
            old_key, _old = self._messages.popitem(last=False)
            self._attempts.pop(old_key, None)
            self.evicted += 1
        return message, True

    def newest(self, provider: str) -> Iterator[SimMessage]:
        """``provider``'s messages, newest first (a lazy walk: a caller that needs few stops early)."""
        return (message for (owner, _ref), message in reversed(self._messages.items()) if owner == provider)

    def submissions(self, prefix: str = "") -> dict[str, int]:
        """Accepted attempts per client reference (every API added up), only those starting with ``prefix``."""
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
