"""The dispatch stage: submits rendered messages at their senders' pace, after a last check, through a provider router.

For each batch the runtime hands over: plan every message (no provider for its channel), answer what the
ledger says was already handed over, end what is out of time (``logic.expired``), withdraw the RCS attempt of an SMS
fallback its deadline triggered (``processors.dispatch.revoke``: delivered meanwhile, the SMS does not go), then
release the rest in waves as their senders' budgets allow (``processors.dispatch.release``). Delivery reports arrive
on the providers' own threads; they are queued and produced by the runtime (``poll_outputs``) in its next batch. A long
SMS has one report per part: they are gathered and forwarded as one event once every part has reported.
"""
from __future__ import annotations

import logging
import queue
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from courrier.config import get_settings
from processors.dispatch import logic
from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.pacing import Pacer
from processors.dispatch.provider import Ack, DeliveryReport, InboundSms, Provider
from processors.dispatch.release import Ledger, Release, Waiting
from processors.dispatch.revoke import Revoker
from processors.dispatch.router import Route, Router, Routing
from processors.dispatch.validity import Validity
from processors.runtime import policy
from processors.runtime.errors import TransientError
from processors.runtime.stage import Event, Output, RecordMeta

log = logging.getLogger(__name__)
ProviderFactory = Callable[[Callable[[DeliveryReport], None], Callable[[InboundSms], None]], Provider]


@dataclass(frozen=True)
class ProviderSpec:
    """How to build one provider (given the report and inbound callbacks) and the channels it may send."""

    factory: ProviderFactory
    channels: frozenset[str]


@dataclass
class _InFlight:
    """A message submitted by this process whose parts have not all reported yet."""

    dispatched: Event
    part_ids: list[str]
    reports: dict[str, DeliveryReport] = field(default_factory=dict)


class DispatchStage:
    """``rendered`` (or a lane's topic) → ``dispatched`` or a terminal receipt; provider reports → ``provider-events``,
    inbound → ``inbound``.

    ``providers``: one factory (sending ``channels``) or several ``ProviderSpec`` in order of preference.
    ``consents``/``campaigns``: the compacted tables the last check reads. ``pacer``: the senders' budgets
    (None: no pacing); ``priority`` marks the transactional lane's stage. A batch holds a message at most
    ``hold_s`` for its sender's budget; what must wait longer goes to the retry topic, in order. ``wave_size``: the
    most messages one ledger write covers before their submit (what a crash can leave with an unknown outcome).
    ``validity``: how long messages may take (``processors.dispatch.validity``); the settings' when None. ``routing``: the
    providers, in failover order, for a message's channel and country (``processors.dispatch.router``); None: the specs' order.

    Reports and inbound messages are acknowledged to their provider (their ``ack``) only after the runtime says the
    outputs carrying them are durable (``outputs_delivered``). Until then ``poll_outputs`` offers those outputs again
    at every call, so a batch that was not committed loses nothing (re-producing may duplicate a report; the receipt
    stage applies a report once), and a crash leaves them unacknowledged, for the SMSC to deliver again on the next bind.

    A part of a long SMS is kept, unacknowledged, until its siblings have reported; the combined report carries and
    acknowledges them all. Acknowledging a part as soon as it is kept would lose it with the process if it crashed
    before the combined report is out (the SMSC would not send it again). The cost: a part waiting longer than the
    SMSC's deliver_sm timeout is delivered again, and the copy replaces the one kept (the SMSC gave up on the first).
    A message pushed out of the in-flight bound has its kept parts produced on their own (unattributed, then acked).
    """

    name = "dispatch"

    def __init__(self, providers: ProviderFactory | Sequence[ProviderSpec], ledger: Ledger,
                 channels: frozenset[str] = frozenset({"SMS"}), submit_timeout_s: float = 30.0, max_in_flight: int = 1_000_000,
                 *, inputs: tuple[str, ...] = ("rendered",), consents: Mapping[str, Event] | None = None,
                 campaigns: Mapping[str, Event] | None = None, pacer: Pacer | None = None, priority: bool = False,
                 hold_s: float = 1.0, breaker: BreakerPolicy = BreakerPolicy(), wave_size: int = 200,
                 validity: Validity | None = None, routing: Routing | None = None, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.inputs = inputs
        self._specs = [ProviderSpec(providers, channels)] if callable(providers) else list(providers)
        self._ledger = ledger
        self._breaker = breaker
        self._routing = routing
        self._validity = validity if validity is not None else Validity.from_settings(get_settings())
        self._release = Release(ledger, consents if consents is not None else {}, campaigns if campaigns is not None else {},
                                pacer, priority, hold_s, submit_timeout_s, clock, sleep, scope=",".join(inputs), wave_size=wave_size,
                                validity=self._validity)
        self._clock = clock
        self._max_in_flight = max_in_flight
        self.router: Router | None = None
        self._events: queue.SimpleQueue[DeliveryReport | InboundSms] = queue.SimpleQueue()
        self._in_flight: OrderedDict[str, _InFlight] = OrderedDict()
        self._by_part: dict[str, str] = {}
        self._unconfirmed: list[Output] = []  # polled, not yet durable: offered again until ``outputs_delivered``
        self._acks: list[Ack] = []  # of the provider items behind ``_unconfirmed``
        self._revoker = Revoker(ledger.state, self._open_provider)

    def open(self) -> None:
        self._ledger.start()
        routes = [Route(spec.factory(self._events.put, self._events.put), spec.channels) for spec in self._specs]
        self.router = Router(routes, self._breaker, self._clock, self._routing)
        try:
            self.router.open()
        except BaseException:
            self._ledger.stop()
            raise

    def close(self) -> None:
        if self.router is not None:
            self.router.close()
        self._ledger.stop()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        result = self.process_batch([(event, meta)])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        """Plan every record, answer from the ledger what was already handed over, release the rest at their senders' pace.

        Never twice: the ledger says SUBMITTING before the submit and SUBMITTED/FAILED after, durably, so a
        message reprocessed after a crash, a rebalance or a replay is re-announced, looked up at its provider
        (``reconcile``), or failed — submitted again only when its provider says it never got it.
        """
        assert self.router is not None, "open() first"
        started = self._clock()
        results: list[list[Output] | BaseException | None] = [None] * len(items)
        waiting: list[Waiting] = []
        in_batch: set[str] = set()
        silent: set[str] = set()  # providers that did not answer a revoke in this batch
        for index, (event, meta) in enumerate(items):
            planned = logic.plan(event, meta.now, self.router.channels, self._validity)
            if isinstance(planned, Output):
                results[index] = [planned]
            elif planned.message_id in in_batch:  # a replayed or re-sent copy: the ledger answers it once this batch wrote it
                results[index] = TransientError(f"{planned.message_id} is already being submitted in this batch; checked again later")
                continue
            else:
                # The ledger first: a message a provider has is announced again, never expired (one terminal receipt).
                previous = self._ledger.state(planned.message_id)
                if previous is not None and previous["state"] == "SUBMITTING":
                    results[index] = self._reconcile(event, previous, meta)
                elif previous is not None and previous["state"] != "FAILED":
                    results[index] = logic.from_ledger(event, previous, meta.now, self._validity)
                if results[index] is None:
                    ended = logic.expired(event, meta.now, policy.attempt_of(list(meta.headers.items())) > 0, previous, self._validity)
                    results[index] = [ended] if ended is not None else None
                if results[index] is None and previous is None:  # an SMS fallback a deadline sent: withdraw the RCS attempt first
                    results[index] = self._revoker.before_fallback(event, meta.now, silent)
                if results[index] is None:
                    in_batch.add(planned.message_id)
                    waiting.append(Waiting(index, planned, event, meta, previous))
                    continue
            self._release.settled(event)
        self._release.run(waiting, self.router, results, started)
        for result in results:
            if isinstance(result, list):
                self._remember([o.value for o in result if o.topic == "dispatched"])
        return [r if r is not None else [] for r in results]

    def _open_provider(self, name: str) -> Provider | None:
        """The provider of that name when it is open (it can be asked something now)."""
        assert self.router is not None
        return self.router.provider(name) if self.router.is_open(name) else None

    def _reconcile(self, event: Event, previous: Event, meta: RecordMeta) -> list[Output] | BaseException | None:
        """A message whose last submit has no known outcome: ask the provider it went to (by client reference) when it
        can say. Accepted → announced; never received → None, it may be submitted again; no way to know → failed."""
        assert self.router is not None
        provider = self.router.provider(previous["provider"])
        lookup = getattr(provider, "reconcile", None)
        if lookup is None:  # SMPP has no lookup by our id: never risk a second submit
            return logic.from_ledger(event, previous, meta.now, self._validity)
        message_id = previous["message_id"]
        if not self.router.is_open(previous["provider"]):
            return TransientError(f"{previous['provider']} is not reachable to look up {message_id}; asked again later",
                                  retry_until=self._validity.retry_until(event))
        try:
            found = lookup(message_id, event["channel"])
            if found is None:
                log.info("unknown outcome reconciled: the provider never got it", extra={"message_id": message_id, "provider": previous["provider"]})
                return None
            self._ledger.write([logic.ledger_record(message_id, "SUBMITTED", previous["provider"], list(found.provider_message_ids),
                                                    previous, meta.now)])
        except TransientError as exc:  # the provider cannot say now: ask again later, until the message's time is up
            return TransientError(str(exc), retry_until=self._validity.retry_until(event))
        log.info("unknown outcome reconciled: the provider had it", extra={"message_id": message_id, "provider": previous["provider"]})
        return logic.announced(event, previous["provider"], found, meta.now, self._validity)

    def poll_outputs(self) -> Iterable[Output]:
        """Provider events as records to produce: those of the last call again unless ``outputs_delivered`` came in
        between (their batch was not committed), then those received since."""
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return list(self._unconfirmed)
            if isinstance(item, InboundSms):
                outputs, carried = [logic.inbound_event(item)], [item]
            else:
                outputs, carried = self._on_report(item)
            self._unconfirmed.extend(outputs)
            self._acks.extend(c.ack for c in carried if c.ack is not None)

    def outputs_delivered(self) -> None:
        """The runtime made the last ``poll_outputs`` durable: acknowledge the provider items they carry, offer them no more."""
        acks, self._acks, self._unconfirmed = self._acks, [], []
        for ack in acks:
            try:
                ack()
            except Exception:  # one provider's failure must not keep the others' items unacknowledged
                log.exception("acknowledging a provider event failed; the provider may deliver it again")

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
            for kept in old.reports.values():  # produced on their own at the next poll, and acknowledged then
                self._events.put(kept)

    def _on_report(self, report: DeliveryReport) -> tuple[list[Output], list[DeliveryReport]]:
        """The outputs a report gives now, and the reports they carry (acknowledged once those outputs are durable):
        a report of its own at once; a part of a long message nothing until every part has reported (see the class)."""
        message_id = self._by_part.get(report.provider_message_id)
        flight = self._in_flight.get(message_id) if message_id else None
        if flight is None:
            return [logic.report_event(report, None)], [report]
        flight.reports[report.provider_message_id] = report  # a part delivered again replaces the copy kept
        if len(flight.reports) < len(flight.part_ids):
            return [], []
        del self._in_flight[message_id]
        for part_id in flight.part_ids:
            self._by_part.pop(part_id, None)
        return [logic.report_event(_combined(flight), flight.dispatched)], list(flight.reports.values())


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
