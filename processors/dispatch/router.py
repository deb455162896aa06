"""Several providers behind one door: each message goes to the first provider, in preference order, that sends its
channel and whose circuit breaker is closed; when none may take it, it waits in the retry topic. The preference order
is the providers' own, or, with ``routing``, the one the deployment's routes give the message's channel and country
(``processors.providers.deployment``: which providers, in failover order, for which countries, channels and lanes).

Never twice holds across providers: dispatch writes the chosen provider in the ledger before the submit, and a
message whose outcome is unknown (no answer, connection lost) is never sent to another provider. Only messages
a provider certainly did not take (refused, throttled, never sent) go elsewhere on their next attempt.

A provider may offer ``ready`` (bool: it can submit right now, e.g. its SMPP link is bound) and ``reconnect()``
(try to reach the peer again); providers without them are taken as always ready. One that cannot be opened
at start is opened again in the background each time its breaker half-opens.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tallies
from dataclasses import dataclass
from typing import Callable, Sequence

from prometheus_client import Counter, Gauge, Histogram

from common.errors import UnreachableError
from processors.dispatch.breaker import Breaker, BreakerPolicy
from processors.dispatch.provider import ALIVE_REFUSALS, CONNECTION_LOST, TIMEOUT, Provider, Submission, SubmitResult

log = logging.getLogger(__name__)

NO_PROVIDER = "no_provider_available"
SUBMITS = Counter("courrier_provider_submits", "Submit answers per provider: accepted, refused (permanent), throttled, "
                  "auth_failed (credentials or rights refused), unknown (the answer was lost) or transient",
                  ["provider", "outcome"])
SUBMIT_SECONDS = Histogram("courrier_provider_submit_seconds", "Time of one windowed submit call to a provider (the messages "
                           "of one batch for it), until every answer or the timeout", ["provider"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
CIRCUIT_OPEN = Gauge("courrier_provider_circuit_open", "1 while a provider's circuit breaker is open or half-open, else 0", ["provider"])
AUTH_FAILED = "provider_auth_failed"
UNKNOWN_OUTCOMES = frozenset({TIMEOUT, CONNECTION_LOST})

# (channel, region) → the names of the providers that may send it, in failover order.
Routing = Callable[[str, str], Sequence[str]]


@dataclass(frozen=True)
class Route:
    """A provider and the channels it may send, in the router's order of preference."""

    provider: Provider
    channels: frozenset[str]


def outcome_label(result: SubmitResult) -> str:
    """The ``outcome`` label of one answer in ``courrier_provider_submits_total``."""
    if result.accepted:
        return "accepted"
    if not result.transient:
        return "refused"
    detail = result.detail or ""
    if detail == AUTH_FAILED:
        return "auth_failed"
    if detail in ALIVE_REFUSALS:
        return "throttled"
    return "unknown" if detail in UNKNOWN_OUTCOMES else "transient"


def healthy(result: SubmitResult) -> bool:
    """Whether an answer shows the provider doing its job (accepting, refusing one message, or throttling)."""
    return result.accepted or not result.transient or (result.detail or "") in ALIVE_REFUSALS


class Router:
    """Chooses a provider per message and submits to each the messages it was given, recording outcomes per provider."""

    def __init__(self, routes: Sequence[Route], policy: BreakerPolicy = BreakerPolicy(),
                 clock: Callable[[], float] = time.monotonic, routing: Routing | None = None) -> None:
        if not routes:
            raise ValueError("a router needs at least one provider")
        names = [r.provider.name for r in routes]
        if len(set(names)) != len(names):
            raise ValueError(f"provider names must be distinct: {names}")
        self.routes = list(routes)
        self._routing = routing
        self._clock = clock
        self._breakers = {r.provider.name: Breaker(policy) for r in routes}
        self._opened: set[str] = set()
        self._opening: set[str] = set()
        self._closed = False
        self._lock = threading.Lock()

    @property
    def channels(self) -> frozenset[str]:
        return frozenset().union(*(r.channels for r in self.routes))

    def open(self) -> None:
        """Open every provider; one that cannot be reached starts with its breaker open. Raises when none opens."""
        errors: list[UnreachableError] = []
        for route in self.routes:
            try:
                route.provider.open()
            except UnreachableError as exc:
                errors.append(exc)
                log.warning("provider unreachable at start; its breaker is open", extra={"provider": route.provider.name, "error": str(exc)})
                self._breakers[route.provider.name].trip(self._clock())
                continue
            self._opened.add(route.provider.name)
        if not self._opened:
            raise errors[0]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = set(self._opened), set()
        for route in self.routes:
            if route.provider.name in opened:
                route.provider.close()

    def provider(self, name: str) -> Provider | None:
        """The provider of that name, if this router has it."""
        return next((r.provider for r in self.routes if r.provider.name == name), None)

    def is_open(self, name: str) -> bool:
        """Whether the provider of that name was opened (it can be asked something)."""
        with self._lock:
            return name in self._opened

    def breaker_state(self, name: str) -> str:
        with self._lock:
            return self._breakers[name].state(self._clock())

    def choose(self, channel: str, region: str = "") -> Provider | None:
        """The provider for one message on ``channel`` to a number of ``region`` now, or None when every one that may
        send it is unavailable."""
        now = self._clock()
        with self._lock:
            for route in self._candidates(channel, region):
                if self._usable(route.provider, now):
                    return route.provider
        return None

    def _candidates(self, channel: str, region: str) -> list[Route]:
        if self._routing is None:
            return [route for route in self.routes if channel in route.channels]
        by_name = {route.provider.name: route for route in self.routes}
        return [by_name[name] for name in self._routing(channel, region) if name in by_name and channel in by_name[name].channels]

    def submit(self, assignments: Sequence[tuple[Provider, Submission]], timeout_s: float) -> list[SubmitResult]:
        """Submit each message to its chosen provider (one windowed call per provider); results in input order."""
        results: list[SubmitResult | None] = [None] * len(assignments)
        by_provider: dict[str, list[int]] = {}
        for index, (provider, _submission) in enumerate(assignments):
            by_provider.setdefault(provider.name, []).append(index)
        for indexes in by_provider.values():
            provider = assignments[indexes[0]][0]
            started = time.perf_counter()
            answers = provider.submit_many([assignments[i][1] for i in indexes], timeout_s)
            SUBMIT_SECONDS.labels(provider.name).observe(time.perf_counter() - started)
            now = self._clock()
            outcomes: Tallies[str] = Tallies()
            with self._lock:
                breaker = self._breakers[provider.name]
                for index, answer in zip(indexes, answers):
                    breaker.record(healthy(answer), now)
                    results[index] = answer
                    outcomes[outcome_label(answer)] += 1
                state = breaker.state(now)
            for outcome, count in outcomes.items():  # one metric update per outcome and call, not per message
                SUBMITS.labels(provider.name, outcome).inc(count)
            CIRCUIT_OPEN.labels(provider.name).set(0 if state == "closed" else 1)
            if state != "closed":
                log.warning("provider breaker open", extra={"provider": provider.name, "state": state})
        return [r for r in results if r is not None]

    def _usable(self, provider: Provider, now: float) -> bool:
        """Whether ``provider`` may take traffic now (caller holds the lock); starts what a half-open breaker calls for."""
        breaker = self._breakers[provider.name]
        if not breaker.allows(now):
            return False
        if provider.name not in self._opened:
            self._reopen_in_background(provider)
            return False
        if not getattr(provider, "ready", True):
            breaker.record(False, now)
            reconnect = getattr(provider, "reconnect", None)
            if reconnect is not None and breaker.state(now) != "closed":
                reconnect()
            return False
        breaker.start_trial(now)
        return True

    def _reopen_in_background(self, provider: Provider) -> None:
        if provider.name in self._opening:
            return
        self._opening.add(provider.name)
        self._breakers[provider.name].start_trial(self._clock())

        def attempt() -> None:
            try:
                provider.open()
            except UnreachableError as exc:
                with self._lock:
                    self._breakers[provider.name].trip(self._clock())
                    self._opening.discard(provider.name)
                log.warning("provider still unreachable", extra={"provider": provider.name, "error": str(exc)})
                return
            with self._lock:
                self._opening.discard(provider.name)
                closed = self._closed
                if not closed:
                    self._opened.add(provider.name)
                    self._breakers[provider.name].record(True, self._clock())
            if closed:  # the stage closed while this was connecting
                provider.close()
                return
            log.info("provider reachable again", extra={"provider": provider.name})

        threading.Thread(target=attempt, name=f"reopen-{provider.name}", daemon=True).start()
