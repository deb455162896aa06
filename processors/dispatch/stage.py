"""The dispatch stage: submits rendered messages at their senders' pace, after a last check, through a provider router.

For each batch the runtime hands over: plan every message (no provider for its channel), answer what the
ledger says was already handed over, end what is out of time (``logic.expired``), withdraw the RCS attempt of an SMS
fallback its deadline triggered (``processors.dispatch.revoke``: delivered meanwhile, the SMS does not go), then
release the rest in waves as their senders' budgets allow (``processors.dispatch.release``). Delivery reports and
inbound messages arrive on the providers' own threads; ``processors.dispatch.reports`` produces them outside the batch
transaction and answers each provider item once the broker has its record.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from common.config import get_settings
from common.errors import TransientError
from processors.dispatch import logic
from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.pacing import Pacer
from processors.dispatch.provider import DeliveryReport, InboundSms, Provider
from processors.dispatch.release import Ledger, Release, Waiting
from processors.dispatch.reports import EventSink, Reporter
from processors.dispatch.revoke import Revoker
from processors.dispatch.router import Route, Router, Routing
from processors.dispatch.validity import Validity
from processors.rules import replay
from processors.runtime import policy
from processors.runtime.stage import Event, Output, RecordMeta

log = logging.getLogger(__name__)
ProviderFactory = Callable[[Callable[[DeliveryReport], None], Callable[[InboundSms], None]], Provider]


@dataclass(frozen=True)
class ProviderSpec:
    """How to build one provider (given the report and inbound callbacks) and the channels it may send."""

    factory: ProviderFactory
    channels: frozenset[str]


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

    Reports and inbound messages go to ``provider-events`` and ``inbound`` through ``sink`` (the ledger's cluster when
    None), outside the batch transaction, each answered to its provider as soon as the broker acknowledged its record
    (``processors.dispatch.reports``). The stage tells the reporter when a batch opens, what it announced, and when it
    is settled (the next ``poll_outputs``, or ``batch_aborted``), so a report is attributed only to a committed
    ``dispatched``. ``max_in_flight`` bounds the messages kept for attribution.
    """

    name = "dispatch"

    def __init__(self, providers: ProviderFactory | Sequence[ProviderSpec], ledger: Ledger,
                 channels: frozenset[str] = frozenset({"SMS"}), submit_timeout_s: float = 30.0, max_in_flight: int = 1_000_000,
                 *, inputs: tuple[str, ...] = ("rendered",), consents: Mapping[str, Event] | None = None,
                 campaigns: Mapping[str, Event] | None = None, pacer: Pacer | None = None, priority: bool = False,
                 hold_s: float = 1.0, breaker: BreakerPolicy = BreakerPolicy(), wave_size: int = 200,
                 validity: Validity | None = None, routing: Routing | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, sink: EventSink | None = None) -> None:
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
        self.router: Router | None = None
        self._sink = sink
        self._max_in_flight = max_in_flight
        self._reporter: Reporter | None = None
        self._revoker = Revoker(ledger.state, self._open_provider)

    def open(self) -> None:
        self._ledger.start()
        self._reporter = Reporter(self._sink if self._sink is not None else self._ledger.event_sink(), self._max_in_flight)
        self._reporter.start()
        routes = [Route(spec.factory(self._reporter.put, self._reporter.put), spec.channels) for spec in self._specs]
        self.router = Router(routes, self._breaker, self._clock, self._routing)
        try:
            self.router.open()
        except BaseException:
            self._reporter.stop()
            self._ledger.stop()
            raise

    def close(self) -> None:
        """The reporter first: what the broker acknowledges while it flushes is answered before the binds close."""
        if self._reporter is not None:
            self._reporter.stop()
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
        assert self.router is not None and self._reporter is not None, "open() first"
        self._reporter.batch_opened()
        started = self._clock()
        results: list[list[Output] | BaseException | None] = [None] * len(items)
        waiting: list[Waiting] = []
        in_batch: set[str] = set()
        silent: set[str] = set()  # providers that did not answer a revoke in this batch
        forced: set[int] = set()  # records of a `courrier replay --force`: submitted again despite the ledger
        channels = self.router.channels  # the routes' union, built per call: once per batch
        for index, (event, meta) in enumerate(items):
            planned = logic.plan(event, meta.now, channels, self._validity)
            if isinstance(planned, Output):
                results[index] = [planned]
            elif planned.message_id in in_batch:  # a replayed or re-sent copy: the ledger answers it once this batch wrote it
                results[index] = TransientError(f"{planned.message_id} is already being submitted in this batch; checked again later")
                continue
            else:
                # The ledger first: a message a provider has is announced again, never expired (one terminal receipt).
                previous = self._ledger.state(planned.message_id)
                if replay.bypasses(meta.headers, previous):
                    forced.add(index)
                elif previous is not None and previous["state"] == "SUBMITTING":
                    results[index] = self._reconcile(event, previous, meta)
                elif previous is not None and previous["state"] != "FAILED":
                    results[index] = logic.from_ledger(event, previous, meta.now, self._validity)
                    if previous["state"] == "SUBMITTED":  # its first batch may have been aborted, and its record with it
                        results[index].append(logic.ledger_output(previous))
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
        for index in forced:
            if isinstance(results[index], list):
                results[index] = logic.resent(results[index], replay.replay_id_of(items[index][1].headers))
        self._reporter.announced([o.value for r in results if isinstance(r, list) for o in r if o.topic == "dispatched"])
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
        """Nothing to produce in the batch (reports go out through the reporter); called once the previous batch is
        settled, which is what the reporter waits for to attribute that batch's reports."""
        if self._reporter is not None:
            self._reporter.settled()
        return ()

    def batch_aborted(self) -> None:
        """Its messages are read again and announced again with the same provider ids: held reports may go now."""
        if self._reporter is not None:
            self._reporter.settled()
