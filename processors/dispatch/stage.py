"""The dispatch stage: submits a batch of rendered messages through a provider, windowed, and forwards its reports.

Delivery reports arrive on the provider's own thread; they are queued and produced by the runtime
(``poll_outputs``) in its next batch. A long SMS has one report per part: they are gathered and
forwarded as one event once every part has reported.
"""
from __future__ import annotations

import queue
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from processors.dispatch import logic
from processors.dispatch.provider import DeliveryReport, InboundSms, Provider, Submission
from processors.runtime.stage import Event, Output, RecordMeta

ProviderFactory = Callable[[Callable[[DeliveryReport], None], Callable[[InboundSms], None]], Provider]


class Ledger(Protocol):
    """What dispatch needs of the submissions ledger (``processors.dispatch.ledger.SubmissionLedger`` in production)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def state(self, message_id: str) -> Event | None: ...

    def write(self, records: Iterable[Event]) -> None: ...


@dataclass
class _InFlight:
    """A message submitted by this process whose parts have not all reported yet."""

    dispatched: Event
    part_ids: list[str]
    reports: dict[str, DeliveryReport] = field(default_factory=dict)


class DispatchStage:
    """``rendered`` → ``dispatched`` (or a terminal receipt); provider reports → ``provider-events``, inbound → ``inbound``."""

    name = "dispatch"
    inputs = ("rendered",)

    def __init__(self, provider_factory: ProviderFactory, ledger: Ledger, channels: frozenset[str] = frozenset({"SMS"}),
                 submit_timeout_s: float = 30.0, max_in_flight: int = 1_000_000) -> None:
        self._factory = provider_factory
        self._ledger = ledger
        self._channels = channels
        self._timeout_s = submit_timeout_s
        self._max_in_flight = max_in_flight
        self._provider: Provider | None = None
        self._events: queue.SimpleQueue[DeliveryReport | InboundSms] = queue.SimpleQueue()
        self._in_flight: OrderedDict[str, _InFlight] = OrderedDict()
        self._by_part: dict[str, str] = {}

    def open(self) -> None:
        self._ledger.start()
        self._provider = self._factory(self._events.put, self._events.put)
        self._provider.open()

    def close(self) -> None:
        if self._provider is not None:
            self._provider.close()
        self._ledger.stop()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        result = self.process_batch([(event, meta)])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        """Plan every record, submit in one windowed call what the ledger has never seen handed over, map each answer to outputs.

        Never twice: the ledger says SUBMITTING before the submit and SUBMITTED/FAILED after, durably, so a
        message reprocessed after a crash, a rebalance or a replay is re-announced or failed, not resubmitted.
        """
        assert self._provider is not None, "open() first"
        provider = self._provider.name
        results: list[list[Output] | BaseException | None] = []
        to_submit: list[tuple[int, Submission, Event | None]] = []
        for index, (event, meta) in enumerate(items):
            planned = logic.plan(event, meta.now, self._channels)
            previous = self._ledger.state(planned.message_id) if isinstance(planned, Submission) else None
            if isinstance(planned, Output):
                results.append([planned])
            elif previous is not None and previous["state"] != "FAILED":
                results.append(logic.from_ledger(event, previous, meta.now))
            else:
                to_submit.append((index, planned, previous))
                results.append(None)
        if to_submit:
            now = items[to_submit[0][0]][1].now
            self._ledger.write(logic.ledger_record(s.message_id, "SUBMITTING", provider, [], prev, now) for _i, s, prev in to_submit)
            answers = self._provider.submit_many([s for _i, s, _prev in to_submit], self._timeout_s)
            settled = []
            for (index, submission, previous), answer in zip(to_submit, answers):
                event, meta = items[index]
                state = logic.after_answer(answer)
                if state is not None:
                    settled.append(logic.ledger_record(submission.message_id, state, provider, list(answer.provider_message_ids),
                                                       self._ledger.state(submission.message_id), meta.now))
                results[index] = logic.outcome(event, provider, answer, meta.now)
            self._ledger.write(settled)
        for result in results:
            if isinstance(result, list):
                self._remember([o.value for o in result if o.topic == "dispatched"])
        return [r if r is not None else [] for r in results]

    def poll_outputs(self) -> Iterable[Output]:
        """Provider events received since the last call, as records to produce."""
        outputs: list[Output] = []
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return outputs
            if isinstance(item, InboundSms):
                outputs.append(logic.inbound_event(item))
            else:
                outputs.extend(self._on_report(item))

    def _remember(self, dispatched_events: list[Event]) -> None:
        for dispatched in dispatched_events:
            message_id = dispatched["context"]["message_id"]
            self._in_flight[message_id] = _InFlight(dispatched, list(dispatched["provider_message_ids"]))
            for part_id in dispatched["provider_message_ids"]:
                self._by_part[part_id] = message_id
        while len(self._in_flight) > self._max_in_flight:  # bounded memory: the oldest messages lose attribution, not their reports
            _old_id, old = self._in_flight.popitem(last=False)
            for part_id in old.part_ids:
                self._by_part.pop(part_id, None)

    def _on_report(self, report: DeliveryReport) -> list[Output]:
        message_id = self._by_part.get(report.provider_message_id)
        flight = self._in_flight.get(message_id) if message_id else None
        if flight is None:
            return [logic.report_event(report, None)]
        flight.reports[report.provider_message_id] = report
        if len(flight.reports) < len(flight.part_ids):
            return []
        del self._in_flight[message_id]
        for part_id in flight.part_ids:
            self._by_part.pop(part_id, None)
        return [logic.report_event(_combined(flight), flight.dispatched)]


def _combined(flight: _InFlight) -> DeliveryReport:
    """One report for a whole message: the parts' statuses in part order, comma-separated (the normalizer aggregates them)."""
    reports = [flight.reports[p] for p in flight.part_ids]
    if len(reports) == 1:
        return reports[0]
    errors = [r.error_code for r in reports if r.error_code and r.error_code not in ("000", "0")]
    return DeliveryReport(
        provider=reports[0].provider, provider_message_id=flight.part_ids[0],
        raw_status=",".join(r.raw_status for r in reports), error_code=errors[0] if errors else reports[0].error_code,
        raw_text="\n".join(r.raw_text for r in reports), received_at=max(r.received_at for r in reports),
    )
