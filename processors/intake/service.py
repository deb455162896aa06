"""The intake's work behind the HTTP layer: check requests, claim idempotency keys, publish, say what happened to each.

Order of writes: a message's ``send-requested`` first, its ``idempotency`` record only once that is
acknowledged, so the window never points at a message that was not written. If the idempotency
record then fails, the message stands (202) and this instance still remembers the key; only another
instance could accept the key again.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from courrier.config import Settings
from processors.intake.idempotency import IdempotencyWindow
from processors.intake.logic import new_message_id, problems, send_requested
from processors.intake.models import MessageRequest, Problem
from processors.runtime.publisher import Publisher
from processors.intake.settings import IntakeSettings
from processors.render.templates import DEFAULT_DIR, Template, load
from processors.runtime.table import TopicTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """The request has a message on ``send-requested``: a new one, or (``replayed``) the one its idempotency key made first."""

    message_id: str
    replayed: bool = False


@dataclass(frozen=True)
class Refused:
    """The request was not taken: an HTTP status (422 the caller's to fix, 503 try again) and why."""

    status: int
    problems: list[Problem]


@dataclass
class _Pending:
    index: int
    message_id: str
    request: MessageRequest


class IntakeService:
    """Owns the template catalog, the idempotency window and the producer of one intake instance."""

    def __init__(self, settings: Settings, intake: IntakeSettings) -> None:
        self._intake = intake
        self.templates: dict[str, Template] = load(Path(settings.templates_dir or DEFAULT_DIR))
        self._table = TopicTable(settings, "idempotency")
        self.window = IdempotencyWindow(self._table, timedelta(seconds=intake.idempotency_window_s))
        self._publisher = Publisher(settings, intake.publish_timeout_s)

    def start(self) -> None:
        """Register schemas and load the idempotency table; raises ``UnreachableError`` naming the part that does not answer."""
        self._publisher.start(("send-requested", "idempotency"))
        self._table.start()

    def close(self) -> None:
        self._table.stop()
        self._publisher.close()

    def submit(self, requests: Sequence[MessageRequest], api_key_id: str | None = None) -> list[Accepted | Refused]:
        """One result per request, in order; every accepted one is on ``send-requested`` (with ``api_key_id``) when this returns."""
        now = datetime.now(timezone.utc)
        results: list[Accepted | Refused | None] = [None] * len(requests)
        pending: list[_Pending] = []
        for index, request in enumerate(requests):
            found = problems(request, self.templates)
            if found:
                results[index] = Refused(422, found)
                continue
            message_id = new_message_id()
            earlier = self.window.claim(request.idempotency_key, message_id, now) if request.idempotency_key else None
            if earlier is not None:
                results[index] = Accepted(earlier, replayed=True)
                continue
            pending.append(_Pending(index, message_id, request))
        errors = self._publisher.publish([send_requested(p.request, p.message_id, now, self._intake.source, api_key_id) for p in pending])
        failed: dict[str, str] = {}
        for item, error in zip(pending, errors):
            if error is None:
                results[item.index] = Accepted(item.message_id)
                continue
            failed[item.message_id] = error
            results[item.index] = _unavailable(error)
            if item.request.idempotency_key:
                self.window.release(item.request.idempotency_key, item.message_id)
        # A replay of a key claimed earlier in this same batch shares the fate of the item that claimed it.
        for index, result in enumerate(results):
            if isinstance(result, Accepted) and result.message_id in failed:
                results[index] = _unavailable(failed[result.message_id])
        self._record_keys([p for p in pending if p.request.idempotency_key and p.message_id not in failed])
        return [r for r in results if r is not None]

    def _record_keys(self, published: list[_Pending]) -> None:
        keys = [p.request.idempotency_key for p in published if p.request.idempotency_key]
        errors = self._publisher.publish([self.window.record(key) for key in keys])
        for key, error in zip(keys, errors):
            if error is not None:  # the message stands; only another instance could now accept this key again
                log.warning("idempotency record not written", extra={"error": error, "key_length": len(key)})

    def idempotency_keys_loaded(self) -> int:
        return len(self._table)


def _unavailable(error: str) -> Refused:
    return Refused(503, [Problem(code="unavailable", message=f"the message could not be written to Kafka: {error}; retry")])
