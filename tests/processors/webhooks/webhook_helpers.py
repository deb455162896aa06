"""Test helpers: simulator-shaped events, signed the way the contract says, and a publisher that records instead of producing."""
from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

from processors.runtime.stage import Output
from processors.web.webhook_signature import sign

SECRET = secrets.token_urlsafe(32)  # random per run: there is no built-in secret to lean on


def sim_event(kind: str = "delivery", **overrides: Any) -> dict[str, Any]:
    """A contract-shaped event: a delivery report by default, an inbound message with ``kind="inbound"``."""
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "type": kind, "provider": "aggregator", "message_id": "agg-1", "client_ref": "m-1",
        "status": "DELIVERED", "error_code": None, "from": None, "to": None, "text": None, "occurred_at": "2026-03-02T09:03:04.000Z",
    }
    if kind == "read":
        event.update(provider="rbm", status="READ")
    if kind == "inbound":
        event.update(message_id="mo-1", client_ref=None, status=None, **{"from": "+33612345678", "to": "COURRIER", "text": "STOP"})
    event.update(overrides)
    return event


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def signed(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers of ``body`` signed at ``timestamp`` (now by default)."""
    at = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", "X-Courrier-Timestamp": str(at), "X-Courrier-Signature": sign(secret, at, body)}


class RecordingPublisher:
    """Keeps what it is asked to publish; ``failing`` makes every record fail as an unreachable broker would."""

    def __init__(self) -> None:
        self.published: list[Output] = []
        self.failing = False
        self.started: tuple[str, ...] | None = None
        self.closed = False

    def start(self, logical_topics: Sequence[str]) -> None:
        self.started = tuple(logical_topics)

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        if self.failing:
            return ["KafkaError{code=_MSG_TIMED_OUT}"] * len(outputs)
        self.published.extend(outputs)
        return [None] * len(outputs)

    def close(self) -> None:
        self.closed = True
