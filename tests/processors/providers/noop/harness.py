"""The no-op provider's conformance harness, for the rules of the kit (../conformance) that mean something without a peer.

It is not in the kit's ``KINDS``, on purpose: every fault the kit injects (``FAULTS``: a lost answer, refused
credentials, throttling, a server error, a bad request) is a fault of a peer or of the way to it, and a no-op provider
has neither — it cannot lose an answer, be throttled or refuse a request. Adding a switch that makes it fail would test
the switch, not the provider, so ``inject`` says so and raises. What does apply — accepted once with an id, every
report's status word becoming its declared receipt status — is checked by ``test_noop_adapter.py`` through this harness.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from processors.dispatch.provider import DeliveryReport, ReportCallback, Submission, SubmitResult
from processors.providers.noop.adapter import NoopProvider


class FaultlessProvider(NotImplementedError):
    """A fault the kit asks for, which a provider without a peer cannot have."""


class NoopHarness:
    name = "noop"
    channel = "SMS"
    statuses = {"DELIVERED": "DELIVERED"}  # the one word it reports

    def __init__(self) -> None:
        self.reports: list[DeliveryReport] = []
        self._made: dict[str, int] = {}

    @contextmanager
    def running(self) -> Iterator[None]:
        yield  # nothing to start: there is no peer

    def provider(self) -> NoopProvider:
        return _Counting(self._made, self.reports.append)

    def submission(self, message_id: str) -> Submission:
        return Submission(message_id, "COURRIER", "ALPHANUMERIC", "+33612345678", f"Your code is {message_id}", "GSM7")

    def times_sent(self, message_id: str) -> int:
        return self._made.get(message_id, 0)

    def inject(self, fault: str) -> None:
        raise FaultlessProvider(f"a no-op provider has no peer to play {fault!r}; see this module's docstring")

    def webhook(self) -> None:
        return None  # reports come through dispatch's callback


class _Counting(NoopProvider):
    """The adapter, counting the messages it accepted (the no-op provider's "journal")."""

    def __init__(self, made: dict[str, int], on_report: ReportCallback) -> None:
        super().__init__(on_report=on_report)
        self._made_by_id = made

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        results = super().submit_many(submissions, timeout_s)
        for result in results:
            if result.accepted:
                self._made_by_id[result.message_id] = self._made_by_id.get(result.message_id, 0) + 1
        return results


HARNESS = NoopHarness
