"""``NoopProvider``: every submission accepted at once with a generated id, then reported ``DELIVERED`` through
``on_report``, so the receipt stage ends each message as it would a real provider's.

The contract of ``processors.dispatch.provider.Provider``, with no peer: one provider message id per message (the
receipt stage reads a no-op report with the HTTP status table, one word per message, as for any HTTP provider), the
reports called on the submitting thread right after every result is built (before ``submit_many`` returns: dispatch
queues them and produces them with its next batch, after the ``dispatched`` record of the same batch). Reports carry
no ``ack``: there is no peer waiting to forget them. ``close`` stops the reports; a closed provider refuses
submissions as a disconnected one would (transient, never sent).
"""
from __future__ import annotations

import itertools
import os
from datetime import datetime, timezone
from typing import Sequence

from processors.dispatch.provider import DeliveryReport, InboundCallback, ReportCallback, Submission, SubmitResult

CHANNELS = frozenset({"SMS", "MMS", "RCS"})
DELIVERED = "DELIVERED"  # a word of receipt.statuses.HTTP_STATUS: a no-op provider's name does not start with "smpp"


def _ignore(_item: object) -> None:
    """The callback of a provider nobody listens to."""


class NoopProvider:
    """Accepts everything, delivers everything, sends nothing; see the module docstring."""

    def __init__(self, on_report: ReportCallback = _ignore, on_inbound: InboundCallback = _ignore, name: str = "noop") -> None:
        self.name = name
        self._on_report = on_report
        self._open = False
        # Ids unique across restarts and processes (a restarted dispatch must not reuse an id a receipt state still holds).
        self._prefix = f"noop-{os.getpid():x}-{os.urandom(4).hex()}-"
        self._counter = itertools.count(1)

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """Every submission accepted (refused transient, never sent, when closed), then one ``DELIVERED`` report each."""
        if not self._open:
            return [SubmitResult(s.message_id, False, [], None, True, "provider closed") for s in submissions]
        results = [SubmitResult(s.message_id, True, [f"{self._prefix}{next(self._counter)}"], None, False, None) for s in submissions]
        now = datetime.now(timezone.utc)
        for result in results:
            self._on_report(DeliveryReport(self.name, result.provider_message_ids[0], DELIVERED, None, "noop: delivered", now))
        return results
