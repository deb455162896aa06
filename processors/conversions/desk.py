"""Recording conversions: attribute, refuse a replay's second count, and write before answering.

A recorded conversion is written twice in one call: to ``conversions`` (keyed by message id, what analytics and the
fraud guard read) and to the compacted ``conversion-ids`` (keyed by the caller's conversion id), which this desk
follows as a table. A conversion id already there, or recorded by this process a moment ago, is answered with its
first result and written nowhere. Two intake instances receiving the same new id within the table's propagation
delay (well under a second) can both record it, and a call whose second write failed (503) and is sent again writes
``conversions`` twice; both copies carry the one conversion id, so a reader counting conversions keeps one per id.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from common.config import Settings
from processors.conversions.logic import Refusal, Reported, attribute
from processors.conversions.models import ConversionRecorded, ConversionRequest
from processors.runtime.publisher import Publisher
from processors.runtime.stage import Event, Output
from processors.runtime.table import TopicTable
from processors.web.errors import ApiError

TOPICS = ("conversions", "conversion-ids")


class ConversionDesk:
    """``record`` one conversion; ``start``/``close`` with the app's lifespan. ``links`` and ``recorded`` replace the
    ``links`` and ``conversion-ids`` tables, ``publish`` the Kafka publisher, ``clock`` the time (tests)."""

    def __init__(self, settings: Settings, message: Callable[[str], Event | None], window: timedelta, timeout_s: float = 10.0, *,
                 links: Mapping[str, Event] | None = None, recorded: Mapping[str, Event] | None = None,
                 publish: Callable[[list[Output]], list[str | None]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._message = message
        self._clock = clock
        self._window = window
        self._tables = [TopicTable(settings, name) for name, given in (("links", links), ("conversion-ids", recorded)) if given is None]
        self._links: Mapping[str, Event] = links if links is not None else self._tables[0]
        self._recorded: Mapping[str, Event] = recorded if recorded is not None else self._tables[-1]
        self._publisher = Publisher(settings, timeout_s) if publish is None else None
        self._publish = publish or self._publisher.publish  # type: ignore[union-attr]
        self._own: dict[str, Event] = {}  # written by this process, until the table shows them
        self._lock = threading.Lock()

    def start(self) -> None:
        for table in self._tables:
            table.start()  # type: ignore[attr-defined]
        if self._publisher is not None:
            self._publisher.start(TOPICS)

    def close(self) -> None:
        for table in self._tables:
            table.stop()  # type: ignore[attr-defined]
        if self._publisher is not None:
            self._publisher.close()

    def record(self, request: ConversionRequest) -> tuple[ConversionRecorded, bool]:
        """The conversion's attribution and whether it is new; ``ApiError`` 404/422 with the reason, 503 when not written."""
        now = self._clock()
        occurred = request.occurred_at or now
        # Stored as timestamp-millis: answer with the time a replay will read back, not one it would show differently.
        occurred = occurred.replace(microsecond=occurred.microsecond // 1000 * 1000)
        reported = Reported(conversion_id=request.conversion_id, event=request.event, occurred_at=occurred,
                            message_id=request.message_id, link_token=request.link_token, value_micros=request.value_micros(),
                            currency=request.currency)
        with self._lock:  # one id at a time in this process: two concurrent replays cannot both be first
            first = self._first(reported.conversion_id)
            if first is not None:
                return ConversionRecorded.of(first, replayed=True), False
            link = self._links.get(reported.link_token) if reported.link_token is not None else None
            message_id = link["context"]["message_id"] if link is not None else reported.message_id
            outcome = attribute(reported, self._message(message_id) if message_id else None, link, now, self._window)
            if isinstance(outcome, Refusal):
                raise ApiError(outcome.status, outcome.code, outcome.message)
            errors = [e for e in self._publish([Output("conversions", outcome["message_id"], outcome),
                                                Output("conversion-ids", reported.conversion_id, outcome)]) if e is not None]
            if errors:
                raise ApiError(503, "unavailable", f"the conversion was not written to Kafka ({errors[0]}); send it again (same conversion_id)")
            self._own[reported.conversion_id] = outcome
            return ConversionRecorded.of(outcome, replayed=False), True

    def _first(self, conversion_id: str) -> Event | None:
        seen: Any = self._recorded.get(conversion_id)
        if seen is not None:
            self._own.pop(conversion_id, None)
            return seen
        return self._own.get(conversion_id)
