"""The intake's work behind the HTTP layer: check requests, claim idempotency keys, publish, say what happened to each.

Order of writes: a message's ``send-requested`` first, its ``idempotency`` record only once that is
acknowledged, so the window never points at a message that was not written. If the idempotency
record then fails, the message stands (202) and this instance still remembers the key; only another
instance could accept the key again.

A key is only ever answered with a message id that was published. Claims are in memory until then,
and every way out of ``submit`` keeps that true: an item whose message Kafka did not take releases
its key (503); an item that cannot be judged at all (a bug: 500 ``internal_error``, logged) claims
nothing and the other items go on; and if publishing itself raises, every key the call claimed is
released before the exception leaves (the caller gets a 500 and may retry with the same keys).

Keys are scoped per API key (``processors.rules.idempotency.scoped_key``): the window and the topic
hold ``courrier:key:<api_key_id>:<key>``, so another API key reusing a key sends its own message.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common.config import Settings
from processors.rules.idempotency import scoped_key
from processors.intake.idempotency import IdempotencyWindow
from processors.intake.logic import new_message_id, problems, send_requested
from processors.intake.models import MessageRequest, Problem
from processors.rules.fraud import country_refusal
from processors.rules.numbers import Refusal, normalize
from processors.runtime.publisher import Publisher
from processors.runtime.stage import Output
from processors.intake.settings import IntakeSettings
from processors.rules.templates import DEFAULT_DIR
from processors.templates_store.catalog import TemplateCatalog
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


@dataclass(frozen=True)
class _Pending:
    """An item whose key (if any) is claimed and whose record is ready: what is left is to publish it."""

    index: int
    message_id: str
    request: MessageRequest
    output: Output
    key: str | None  # the idempotency key as stored: scoped to the API key (None without one)


class IntakeService:
    """Owns the template catalog, the idempotency window and the producer of one intake instance."""

    def __init__(self, settings: Settings, intake: IntakeSettings) -> None:
        self._intake = intake
        # The template store; the bundled templates (or templates_dir) seed the ids it lacks (processors.templates_store).
        self.templates = TemplateCatalog(settings, seed_dir=Path(settings.templates_dir or DEFAULT_DIR))
        self._table = TopicTable(settings, "idempotency")
        self.window = IdempotencyWindow(self._table, timedelta(seconds=intake.idempotency_window_s))
        self._publisher = Publisher(settings, intake.publish_timeout_s)

    def start(self) -> None:
        """Register schemas and load the idempotency table; raises ``UnreachableError`` naming the part that does not answer."""
        self._publisher.start(("send-requested", "idempotency"))
        self._table.start()
        self.templates.start()

    def close(self) -> None:
        self.templates.stop()
        self._table.stop()
        self._publisher.close()

    def submit(self, requests: Sequence[MessageRequest], api_key_id: str | None = None,
               countries: Sequence[str] | None = None) -> list[Accepted | Refused]:
        """One result per request, in order; every accepted one is on ``send-requested`` (with ``api_key_id``) when this returns.

        Refused: 403 a recipient outside the key's ``countries`` (None: any), 422 the caller's to fix, 503 Kafka did not
        take it, 500 it could not be judged. No key is left claimed for a message that was not published (see the
        module's docstring).
        """
        now = datetime.now(timezone.utc)
        results: list[Accepted | Refused | None] = [None] * len(requests)
        pending: list[_Pending] = []
        try:
            for index, request in enumerate(requests):
                try:
                    outcome = self._claim(index, request, now, api_key_id, countries)
                except Exception:  # one item's bug must not cost the others their answer, nor leave their keys claimed
                    log.exception("intake item could not be judged", extra={"index": index})
                    outcome = _internal_error()
                if isinstance(outcome, _Pending):
                    pending.append(outcome)
                else:
                    results[index] = outcome
            errors = self._publisher.publish([p.output for p in pending])
        except BaseException:
            for item in pending:
                self._release(item)
            raise
        failed: dict[str, str] = {}
        for item, error in zip(pending, errors):
            if error is None:
                results[item.index] = Accepted(item.message_id)
                continue
            failed[item.message_id] = error
            results[item.index] = _unavailable(error)
            self._release(item)
        # A replay of a key claimed earlier in this same batch shares the fate of the item that claimed it.
        for index, result in enumerate(results):
            if isinstance(result, Accepted) and result.message_id in failed:
                results[index] = _unavailable(failed[result.message_id])
        self._record_keys([p for p in pending if p.key and p.message_id not in failed])
        return [r for r in results if r is not None]

    def _claim(self, index: int, request: MessageRequest, now: datetime, api_key_id: str | None,
               countries: Sequence[str] | None = None) -> Accepted | Refused | _Pending:
        """Judge one request: refused, a replay of its key, or ready to publish with its key claimed (the last step, so
        nothing that can fail comes between a claim and the publishing that decides whether to keep it)."""
        outside = _outside(request, countries)
        if outside is not None:
            return outside
        found = problems(request, self.templates)
        if found:
            return Refused(422, found)
        message_id = new_message_id()
        output = send_requested(request, message_id, now, self._intake.source, api_key_id)
        key = scoped_key(request.idempotency_key, api_key_id)
        if key:
            earlier = self.window.claim(key, message_id, now)
            if earlier is not None:
                return Accepted(earlier, replayed=True)
        return _Pending(index, message_id, request, output, key)

    def _release(self, item: _Pending) -> None:
        if item.key:
            self.window.release(item.key, item.message_id)

    def _record_keys(self, published: list[_Pending]) -> None:
        keys = [p.key for p in published if p.key]
        try:
            errors = self._publisher.publish([self.window.record(key) for key in keys])
        except Exception:  # the messages stand and this instance keeps their keys: answer what was sent, not a 500
            log.exception("idempotency records not written", extra={"keys": len(keys)})
            return
        for key, error in zip(keys, errors):
            if error is not None:  # the message stands; only another instance could now accept this key again
                log.warning("idempotency record not written", extra={"error": error, "key_length": len(key)})

    def idempotency_keys_loaded(self) -> int:
        return len(self._table)


def _outside(request: MessageRequest, countries: Sequence[str] | None) -> Refused | None:
    """403 ``country_not_allowed`` for a valid number outside the key's countries (an invalid one is left to ``problems``)."""
    if not countries:
        return None
    number = normalize(request.recipient, request.default_region)
    why = None if isinstance(number, Refusal) else country_refusal(countries, number["region"])
    return None if why is None else Refused(403, [Problem(code="country_not_allowed", message=why, field="recipient")])


def _internal_error() -> Refused:
    return Refused(500, [Problem(code="internal_error", message="this message could not be checked (the error is logged); it was not "
                                                                "sent and its idempotency key is free: a retry with the same key is safe")])


def _unavailable(error: str) -> Refused:
    return Refused(503, [Problem(code="unavailable", message=f"the message could not be written to Kafka: {error}; retry")])
