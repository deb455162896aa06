"""Failover between providers with in-process fakes: breakers open on failures, traffic moves, nothing is sent twice."""
from __future__ import annotations

import time
from typing import Callable, Sequence

import pytest

from common.errors import TransientError, UnreachableError
from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.provider import Submission, SubmitResult
from processors.dispatch.router import Route, Router
from processors.dispatch.stage import DispatchStage, ProviderSpec
from test_dispatch_stage import MemoryLedger, meta, rendered  # noqa: I001 (same folder)

Answer = Callable[[Submission], SubmitResult]


def accept(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, True, [f"id-{s.message_id}"], None, False, None)


def not_bound(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, False, [], None, True, "not_bound")


def lost(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, False, [], None, True, "connection_lost")


def throttled(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, False, [], "0x00000058", True, "throttled")


class FakeProvider:
    def __init__(self, name: str, answer: Answer = accept, reachable: bool = True) -> None:
        self.name, self.answer, self.reachable = name, answer, reachable
        self.ready = True
        self.submitted: list[str] = []
        self.opens = 0
        self.reconnects = 0

    def open(self) -> None:
        self.opens += 1
        if not self.reachable:
            raise UnreachableError(f"{self.name} refused the connection")

    def close(self) -> None: ...

    def reconnect(self) -> None:
        self.reconnects += 1

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        self.submitted.extend(s.message_id for s in submissions)
        return [self.answer(s) for s in submissions]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


POLICY = BreakerPolicy(failures=3, window=10, cooldown_s=10.0)


def stage_over(*providers: FakeProvider, clock: Clock | None = None, channels=frozenset({"SMS"})) -> tuple[DispatchStage, MemoryLedger]:
    ledger = MemoryLedger()
    specs = [ProviderSpec(lambda _r, _i, p=p: p, channels) for p in providers]
    stage = DispatchStage(specs, ledger, breaker=POLICY, clock=clock or Clock())
    stage.open()
    return stage, ledger


def send(stage: DispatchStage, *ids: str, first_offset: int = 0) -> list:
    return stage.process_batch([(rendered(i, f"+3361234{n:04d}"), meta(first_offset + n)) for n, i in enumerate(ids)])


def test_traffic_moves_to_the_next_provider_once_the_first_ones_breaker_opens() -> None:
    primary, backup = FakeProvider("primary", not_bound), FakeProvider("backup")
    stage, ledger = stage_over(primary, backup)
    first = send(stage, "a", "b", "c", "d")
    assert all(isinstance(r, TransientError) for r in first)  # certainly not taken: they may go elsewhere next time
    assert stage.router.breaker_state("primary") == "open"
    again = send(stage, "a", "b", "c", "d", first_offset=4)
    assert [r[0].value["provider"] for r in again] == ["backup"] * 4
    assert backup.submitted == ["a", "b", "c", "d"] and ledger.records["a"]["provider"] == "backup"
    assert ledger.records["a"]["attempt"] == 2


def test_a_message_whose_outcome_is_unknown_never_goes_to_another_provider() -> None:
    primary, backup = FakeProvider("primary", lost), FakeProvider("backup")
    stage, ledger = stage_over(primary, backup)
    send(stage, "a", "b", "c")
    assert ledger.records["a"]["state"] == "SUBMITTING" and ledger.records["a"]["provider"] == "primary"
    retried = send(stage, "a", "b", "c", first_offset=3)
    assert [r[0].value["reason"] for r in retried] == ["submission_outcome_unknown"] * 3
    assert backup.submitted == []


def test_when_no_provider_may_take_a_message_it_waits_in_the_retry_topic() -> None:
    stage, _ledger = stage_over(FakeProvider("only", not_bound))
    send(stage, "a", "b", "c")
    [waiting] = send(stage, "d", first_offset=3)
    assert isinstance(waiting, TransientError) and "no_provider_available" in str(waiting)


def test_throttling_proves_the_provider_alive() -> None:
    primary, backup = FakeProvider("primary", throttled), FakeProvider("backup")
    stage, _ledger = stage_over(primary, backup)
    send(stage, *[f"m{i}" for i in range(10)])
    assert stage.router.breaker_state("primary") == "closed" and backup.submitted == []


def test_after_the_cooldown_one_trial_message_closes_the_breaker_again() -> None:
    clock = Clock()
    primary, backup = FakeProvider("primary", not_bound), FakeProvider("backup")
    stage, _ledger = stage_over(primary, backup, clock=clock)
    send(stage, "a", "b", "c")
    primary.answer = accept
    clock.t = 10.0
    results = send(stage, "d", "e", "f", first_offset=3)
    assert [r[0].value["provider"] for r in results] == ["primary", "backup", "backup"]  # one trial, the rest elsewhere
    assert stage.router.breaker_state("primary") == "closed"
    assert [r[0].value["provider"] for r in send(stage, "g", "h", first_offset=6)] == ["primary", "primary"]


def test_a_provider_that_drops_its_link_is_skipped_and_asked_to_reconnect() -> None:
    clock = Clock()
    primary, backup = FakeProvider("primary"), FakeProvider("backup")
    stage, _ledger = stage_over(primary, backup, clock=clock)
    primary.ready = False
    assert [r[0].value["provider"] for r in send(stage, "a", "b", "c", "d")] == ["backup"] * 4
    clock.t = 10.0
    send(stage, "e", first_offset=4)
    assert primary.reconnects >= 1 and primary.submitted == []


def test_a_provider_unreachable_at_start_is_opened_again_in_the_background() -> None:
    clock = Clock()
    primary, backup = FakeProvider("primary", reachable=False), FakeProvider("backup")
    stage, _ledger = stage_over(primary, backup, clock=clock)
    assert stage.router.breaker_state("primary") == "open" and backup.opens == 1
    assert send(stage, "a")[0][0].value["provider"] == "backup"
    primary.reachable = True
    clock.t = 10.0
    send(stage, "b", first_offset=1)  # half-open: the router opens it again, off the submit path
    for _ in range(200):
        if stage.router.breaker_state("primary") == "closed":
            break
        time.sleep(0.01)
    assert primary.opens == 2 and stage.router.breaker_state("primary") == "closed"
    assert send(stage, "c", first_offset=2)[0][0].value["provider"] == "primary"


def test_a_channel_goes_only_to_providers_that_send_it() -> None:
    sms, rcs = FakeProvider("sms"), FakeProvider("rcs")
    ledger = MemoryLedger()
    stage = DispatchStage([ProviderSpec(lambda _r, _i: sms, frozenset({"SMS"})), ProviderSpec(lambda _r, _i: rcs, frozenset({"RCS"}))],
                          ledger, breaker=POLICY)
    stage.open()
    [[out, deadline, _ledger]] = stage.process_batch([(rendered("r1", channel="RCS"), meta())])
    assert deadline.topic == "rcs-deadline"
    assert out.value["provider"] == "rcs" and sms.submitted == []


def test_routes_need_distinct_provider_names() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Router([Route(FakeProvider("x"), frozenset({"SMS"})), Route(FakeProvider("x"), frozenset({"SMS"}))])


class LookupProvider(FakeProvider):
    """A provider that can say what it got, by our message id (as the HTTP provider does with client references)."""

    def __init__(self, name: str, answer: Answer = accept) -> None:
        super().__init__(name, answer)
        self.known: dict[str, SubmitResult] = {}
        self.lookups: list[str] = []
        self.lookup_down = False

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        results = super().submit_many(submissions, timeout_s)
        for s, r in zip(submissions, results):
            if r.accepted or r.detail == "timeout":  # a lost answer: the provider did get it
                self.known[s.message_id] = accept(s)
        return results

    def reconcile(self, message_id: str, channel: str = "SMS") -> SubmitResult | None:
        self.lookups.append(message_id)
        if self.lookup_down:
            raise TransientError(f"{self.name} cannot look up {message_id} now")
        return self.known.get(message_id)


def timeout(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, False, [], None, True, "timeout")


def test_an_unknown_outcome_is_looked_up_and_announced_not_sent_again() -> None:
    provider = LookupProvider("http", timeout)
    stage, ledger = stage_over(provider)
    [first] = send(stage, "a")
    assert isinstance(first, TransientError) and ledger.records["a"]["state"] == "SUBMITTING"
    [settled] = send(stage, "a", first_offset=1)
    assert settled[0].topic == "dispatched" and settled[0].value["provider_message_ids"] == ["id-a"]
    assert provider.submitted == ["a"] and provider.lookups == ["a"] and ledger.records["a"]["state"] == "SUBMITTED"


def test_a_message_the_provider_never_got_is_submitted_again() -> None:
    provider = LookupProvider("http", lost)  # the connection dropped before the request reached it
    stage, ledger = stage_over(provider)
    send(stage, "a")
    provider.answer = accept
    [again] = send(stage, "a", first_offset=1)
    assert again[0].topic == "dispatched" and provider.submitted == ["a", "a"] and ledger.records["a"]["attempt"] == 2


def test_a_provider_that_cannot_say_now_is_asked_again_later() -> None:
    provider = LookupProvider("http", timeout)
    stage, ledger = stage_over(provider)
    send(stage, "a")
    provider.lookup_down = True
    [later] = send(stage, "a", first_offset=1)
    assert isinstance(later, TransientError) and ledger.records["a"]["state"] == "SUBMITTING" and provider.submitted == ["a"]


def test_routing_sends_each_country_to_its_own_providers_in_failover_order() -> None:
    france, world, backup = FakeProvider("france"), FakeProvider("world"), FakeProvider("backup")
    table = {"FR": ("france", "backup"), "US": ("world",)}
    router = Router([Route(p, frozenset({"SMS"})) for p in (world, france, backup)], POLICY, Clock(),
                    routing=lambda channel, region: table.get(region, ()))
    router.open()
    assert router.choose("SMS", "FR") is france
    assert router.choose("SMS", "US") is world
    assert router.choose("SMS", "DE") is None, "a country no route names has no provider: it waits, it is not sent anywhere"
    france.ready = False
    for _ in range(POLICY.failures):
        router.choose("SMS", "FR")
    assert router.choose("SMS", "FR") is backup, "France fails over to its second provider, never to the US one"


def test_the_dispatch_stage_routes_by_the_recipients_country() -> None:
    france, world = FakeProvider("france"), FakeProvider("world")
    ledger = MemoryLedger()
    stage = DispatchStage([ProviderSpec(lambda _r, _i, p=p: p, frozenset({"SMS"})) for p in (world, france)], ledger, breaker=POLICY,
                          routing=lambda channel, region: ("france",) if region == "FR" else ("world",))
    stage.open()
    [[out, _deadline, _ledger]] = stage.process_batch([(rendered("fr-1"), meta())])
    assert out.value["provider"] == "france" and world.submitted == []


def test_every_answer_is_counted_per_provider_and_the_circuit_state_is_a_gauge() -> None:
    from prometheus_client import REGISTRY

    def auth_failed(s: Submission) -> SubmitResult:
        return SubmitResult(s.message_id, False, [], "20003", True, "provider_auth_failed")

    name = f"metered-{time.monotonic_ns()}"
    provider = FakeProvider(name, auth_failed)
    router = Router([Route(provider, frozenset({"SMS"}))], BreakerPolicy(failures=2, window=2, cooldown_s=60), Clock())
    router.open()
    router.submit([(provider, Submission(f"m{i}", "S", "ALPHANUMERIC", "+33612345678", "hi", "GSM7")) for i in range(2)], 5)
    assert REGISTRY.get_sample_value("courrier_provider_submits_total", {"provider": name, "outcome": "auth_failed"}) == 2
    assert REGISTRY.get_sample_value("courrier_provider_circuit_open", {"provider": name}) == 1
