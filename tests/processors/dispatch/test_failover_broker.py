"""Failover between two SMPP peers through the broker: one port dead from the start, or a peer that dies mid-run.
Every message ends dispatched once, through whichever peer was up; none is accepted by both."""
from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from contextlib import suppress
from typing import Iterator

import pytest

from common.config import Settings
from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.stage import DispatchStage, ProviderSpec
from dispatch_broker import Counted, Outcomes, publish, rendered, running, smpp_factory  # noqa: I001 (same folder)

POLICY = BreakerPolicy(failures=3, window=20, cooldown_s=2.0, max_cooldown_s=10.0)


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


class Proxy:
    """A TCP relay on 127.0.0.1 to the SMSC that can be cut: the peer "dies" for whoever connected through it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress; close() alone would leave it listening
        self.server.close()
        for sock in self.sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def proxy(real_parts: Settings) -> Iterator[Proxy]:
    relay = Proxy(real_parts.smpp_address)
    yield relay
    relay.cut()


def dispatch_over(settings: Settings, first_port: int) -> tuple[DispatchStage, list[Counted], list[Counted]]:
    """A stage preferring the peer on ``first_port`` (one quick bind attempt), then the session's SMSC."""
    first: list[Counted] = []
    second: list[Counted] = []
    specs = [ProviderSpec(smpp_factory(settings, first, port=first_port, name=f"smpp:first:{first_port}", bind_attempts=1,
                                       bind_timeout_s=2.0), frozenset({"SMS"})),
             ProviderSpec(smpp_factory(settings, second), frozenset({"SMS"}))]
    return DispatchStage(specs, SubmissionLedger(settings), consents={}, campaigns={}, breaker=POLICY), first, second


def otps(prefix: str, count: int) -> list[dict]:
    return [rendered(f"{prefix}-{i:03d}", f"+336124{i:05d}", "COURRIER", rate=100.0, lane="TRANSACTIONAL", text=f"Code {i}")
            for i in range(count)]


def test_a_dead_port_at_start_sends_everything_through_the_other_peer(topic_settings: Settings) -> None:
    settings = topic_settings
    stage, first, second = dispatch_over(settings, free_port())
    events = otps("dead", 50)
    outcomes = Outcomes(settings)
    try:
        with running(settings, stage):
            publish(settings, "rendered", events)
            found = outcomes.wait({e["context"]["message_id"] for e in events}, timeout_s=90)
    finally:
        outcomes.close()
    assert stage.router is not None and stage.router.breaker_state(first[0].name) != "closed"
    assert first[0].handed == []
    assert {m: [(t, v.get("provider")) for t, v in found.get(m, [])] for m in (e["context"]["message_id"] for e in events)} == {
        e["context"]["message_id"]: [("dispatched", second[0].name)] for e in events}


def test_a_peer_that_dies_mid_run_fails_over_and_nothing_is_accepted_twice(topic_settings: Settings, proxy: Proxy) -> None:
    settings = topic_settings
    stage, first, second = dispatch_over(settings, proxy.port)
    before, after = otps("before", 40), otps("after", 40)
    ids = [e["context"]["message_id"] for e in before + after]
    outcomes = Outcomes(settings)
    try:
        with running(settings, stage):
            publish(settings, "rendered", before)
            outcomes.wait(set(ids[:40]), timeout_s=60)
            proxy.cut()
            time.sleep(0.5)  # the link thread sees the end of stream
            publish(settings, "rendered", after)
            found = outcomes.wait(set(ids), timeout_s=120)
    finally:
        outcomes.close()
    assert sorted(m for m in ids if len(found.get(m, [])) != 1) == [], "each message has exactly one outcome"
    providers = Counter(v["provider"] for m in ids for t, v in found[m] if t == "dispatched")
    assert providers[first[0].name] >= 40 and providers[second[0].name] >= 1, providers
    assert first[0].accepted.isdisjoint(second[0].accepted), "a message accepted by both peers"
    assert first[0].accepted | second[0].accepted == {m for m in ids if found[m][0][0] == "dispatched"}
