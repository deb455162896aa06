"""How long a message may take at dispatch: retried while no provider can take it until its validity ends, then
EXPIRED ``no_provider_available``; the validity a submit carries; the rules' settings. Fake clocks, no broker."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from common.errors import TransientError
from processors.dispatch.provider import SubmitResult
from processors.dispatch.stage import DispatchStage
from processors.dispatch.validity import Validity, parse_graces
from processors.runtime.policy import ATTEMPT, RetryPolicy
from processors.runtime.stage import RecordMeta
from test_dispatch_stage import MemoryLedger, ScriptedProvider, rendered  # noqa: I001 (same folder)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
VALIDITY = Validity(default_s=6 * 3600, report_grace_s=3600)


class DownProvider(ScriptedProvider):
    """A provider whose link is down: the router never gives it a message while ``ready`` is False."""

    ready = False

    def reconnect(self) -> None: ...


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def stage_with(provider_class: type[ScriptedProvider], ledger: MemoryLedger | None = None) -> tuple[DispatchStage, list, Clock]:
    made: list[ScriptedProvider] = []
    clock = Clock()

    def factory(on_report, on_inbound):
        made.append(provider_class(on_report, on_inbound))
        return made[-1]

    stage = DispatchStage(factory, ledger or MemoryLedger(), validity=VALIDITY, clock=clock, sleep=lambda s: None)
    stage.open()
    return stage, made, clock


def meta(now: datetime, attempt: int = 0) -> RecordMeta:
    return RecordMeta("rendered", 0, 0, "COURRIER", now, headers={ATTEMPT: str(attempt).encode()} if attempt else {})


def test_with_every_provider_down_a_message_is_retried_until_its_validity_ends_then_expires() -> None:
    """The runner's loop played with a fake clock: each retry comes back when ``RetryPolicy`` and ``retry_until``
    (as ``Runner._retry`` computes them) say, far more often than max_attempts, the last one exactly at expires_at."""
    stage, made, clock = stage_with(DownProvider)
    expires_at = NOW + timedelta(hours=1)
    message, now, attempt, policy = rendered("m1", expires_at=expires_at), NOW, 0, RetryPolicy()
    while True:
        [result] = stage.process_batch([(message, meta(now, attempt))])
        if not isinstance(result, TransientError):
            break
        assert result.retry_until == expires_at and "no_provider_available" in str(result)
        attempt += 1
        delay_s = min(policy.delay_s(attempt, result.delay_s), max(0.0, (result.retry_until - now).total_seconds()))
        assert delay_s <= policy.max_delay_s * (1 + policy.jitter)  # capped backoff
        now += timedelta(seconds=delay_s)
        clock.t += delay_s
    assert now == expires_at and attempt > policy.max_attempts
    [expired] = result
    assert (expired.topic, expired.value["status"], expired.value["reason"], expired.value["terminal"]) == (
        "receipt", "EXPIRED", "no_provider_available", True)
    assert made[0].submitted == []


def test_without_an_expires_at_the_retry_window_is_the_default_validity_from_the_request() -> None:
    stage, _made, _clock = stage_with(DownProvider)
    message = rendered("m1")
    [result] = stage.process_batch([(message, meta(NOW))])
    assert isinstance(result, TransientError)
    assert result.retry_until == message["context"]["requested_at"] + timedelta(hours=6)
    [ended] = stage.process_batch([(message, meta(result.retry_until, attempt=40))])
    assert (ended[0].value["status"], ended[0].value["reason"]) == ("EXPIRED", "no_provider_available")


def test_expiry_before_submit_keeps_its_reason_unless_no_provider_was_the_cause() -> None:
    ledger = MemoryLedger()
    stage, made, _clock = stage_with(ScriptedProvider, ledger)
    late = rendered("m1", expires_at=NOW - timedelta(seconds=1))
    [first_sight] = stage.process_batch([(late, meta(NOW))])  # held by quiet hours or pacing: never retried
    assert (first_sight[0].value["status"], first_sight[0].value["reason"]) == ("EXPIRED", "validity_elapsed")
    # Retried because a provider refused it transiently (the ledger says it went to one): the validity elapsed.
    made[0].answers = {"+33612345678": SubmitResult("m2", False, [], "0x00000008", True, "ESME_RSYSERR")}
    [refused] = stage.process_batch([(rendered("m2", expires_at=NOW + timedelta(minutes=5)), meta(NOW))])
    assert isinstance(refused, TransientError) and refused.retry_until == NOW + timedelta(minutes=5)
    assert ledger.records["m2"]["state"] == "FAILED"
    [after] = stage.process_batch([(rendered("m2", expires_at=NOW + timedelta(minutes=5)), meta(NOW + timedelta(minutes=5), 3))])
    assert (after[0].value["status"], after[0].value["reason"]) == ("EXPIRED", "validity_elapsed")
    assert len(made[0].submitted) == 1


def test_a_message_a_provider_has_is_announced_again_not_expired() -> None:
    ledger = MemoryLedger()
    stage, made, _clock = stage_with(ScriptedProvider, ledger)
    message = rendered("m1", expires_at=NOW + timedelta(minutes=1))
    stage.process_batch([(message, meta(NOW))])
    [replayed] = stage.process_batch([(message, meta(NOW + timedelta(hours=2), 1))])  # a replay past its validity
    assert [o.topic for o in replayed] == ["dispatched", "rcs-deadline", "submissions"] and len(made[0].submitted) == 1


def test_a_submit_carries_its_validity() -> None:
    stage, made, _clock = stage_with(ScriptedProvider)
    stage.process_batch([(rendered("m1", expires_at=NOW + timedelta(minutes=10)), meta(NOW)), (rendered("m2"), meta(NOW))])
    assert [s.expires_at for s in made[0].submitted] == [NOW + timedelta(minutes=10), NOW + timedelta(hours=6)]


def test_validity_rules_and_graces_by_provider() -> None:
    message = rendered("m1")
    validity = Validity(default_s=60, report_grace_s=10, grace_by_provider=parse_graces(" http:sim=5 , smpp:127.0.0.1:2775=0"))
    assert validity.grace_by_provider == {"http:sim": 5.0, "smpp:127.0.0.1:2775": 0.0}
    assert validity.report_due(message, "http:sim", NOW) == NOW + timedelta(seconds=65)
    assert validity.report_due(message, "smpp:127.0.0.1:2775", NOW) == NOW + timedelta(seconds=60)
    assert validity.report_due(message, "other", NOW) == NOW + timedelta(seconds=70)
    assert parse_graces("") == {}
    for bad in ("http:sim", "=5", "http:sim=-1", "http:sim=soon"):
        with pytest.raises(ValueError, match="provider=seconds"):
            parse_graces(bad)
    with pytest.raises(ValueError):
        Validity(default_s=0)
