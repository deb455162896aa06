"""The conformance kit: every provider adapter, SMPP included, passes the same rules against its own fake.

Submit once; an answer lost after the request left is resolved without a second send (the provider's idempotency,
or a lookup, or — where neither exists — by never sending again); throttling and server errors are transient, a bad
request permanent; refused credentials open the circuit with a log line; a webhook signed by the provider is read,
a forged one refused with 403, a replayed one carries the same event id (the receiver answers it without publishing
twice); every status word of the provider's table becomes the receipt status declared.

Harnesses live beside each provider's tests (``tests/processors/providers/<kind>/harness.py``, ``HARNESS``).
"""
from __future__ import annotations

import importlib.util
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.router import Route, Router, healthy
from processors.receipt.statuses import normalize, protocol_of
from processors.web.webhook_contract import Rejected
from harness import Harness  # noqa: I001 (this folder)

HERE = Path(__file__).resolve().parent
KINDS = ("smpp", "rbm", "twilio", "vonage")
WEBHOOK_KINDS = ("rbm", "twilio", "vonage")  # SMPP reports over its own bind: its harness's webhook() is None
RECONCILE_WAIT_S = 5.0


def _load(kind: str) -> Harness:
    path = HERE.parent / kind / "harness.py"
    spec = importlib.util.spec_from_file_location(f"conformance_harness_{kind}", path)
    assert spec is not None and spec.loader is not None, f"{path} cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HARNESS()


@pytest.fixture(scope="module", params=KINDS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if not (HERE.parent / request.param / "harness.py").is_file():
        pytest.fail(f"provider {request.param!r} has no conformance harness (tests/processors/providers/{request.param}/harness.py)")
    loaded = _load(request.param)
    with loaded.running():
        yield loaded


@pytest.fixture(scope="module", params=WEBHOOK_KINDS)
def webhook_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    loaded = _load(request.param)
    with loaded.running():
        yield loaded


@pytest.fixture
def opened(harness: Harness) -> Iterator:
    provider = harness.provider()
    provider.open()
    try:
        yield provider
    finally:
        provider.close()


def new_id() -> str:
    return str(uuid.uuid4())


def test_a_submission_is_accepted_and_sent_once(harness: Harness, opened) -> None:
    message_id = new_id()
    (result,) = opened.submit_many([harness.submission(message_id)], timeout_s=10)
    assert (result.message_id, result.accepted, result.transient) == (message_id, True, False), result
    assert result.provider_message_ids and all(result.provider_message_ids)
    assert harness.times_sent(message_id) == 1


def test_a_lost_answer_is_resolved_without_a_second_send(harness: Harness, opened) -> None:
    message_id = new_id()
    submission = harness.submission(message_id)
    harness.inject("lost_answer")
    (result,) = opened.submit_many([submission], timeout_s=10)
    if not result.accepted:
        assert result.transient, "a lost answer is never a permanent refusal: the message may have left"
        reconcile = getattr(opened, "reconcile", None)
        if reconcile is not None:
            found = None
            deadline = time.monotonic() + RECONCILE_WAIT_S
            while found is None and time.monotonic() < deadline:
                found = reconcile(message_id, harness.channel)
                if found is None:
                    time.sleep(0.2)
            assert found is not None and found.accepted, "the provider's idempotency or lookup finds the message"
    assert harness.times_sent(message_id) == 1, "never sent twice, whatever the adapter does about the lost answer"


@pytest.mark.parametrize("fault", ["throttled", "server_error"])
def test_throttling_and_server_errors_are_transient(harness: Harness, opened, fault: str) -> None:
    message_id = new_id()
    harness.inject(fault)
    (result,) = opened.submit_many([harness.submission(message_id)], timeout_s=10)
    if result.accepted:  # retried within the call after Retry-After, as Twilio's and RBM's guides advise
        assert harness.times_sent(message_id) == 1
        return
    assert result.transient, result


def test_a_bad_request_is_permanent(harness: Harness, opened) -> None:
    harness.inject("bad_request")
    (result,) = opened.submit_many([harness.submission(new_id())], timeout_s=10)
    assert (result.accepted, result.transient) == (False, False), result
    assert result.error_code or result.detail


@pytest.mark.parametrize("fault", ["unauthorized", "forbidden"])
def test_refused_credentials_open_the_circuit_with_a_log_line(harness: Harness, fault: str, caplog: pytest.LogCaptureFixture) -> None:
    provider = harness.provider()
    provider.open()
    try:
        router = Router([Route(provider, frozenset({harness.channel}))], BreakerPolicy(failures=1, window=1, cooldown_s=60))
        harness.inject(fault)
        with caplog.at_level(logging.WARNING):
            (result,) = router.submit([(provider, harness.submission(new_id()))], timeout_s=10)
    finally:
        provider.close()
    assert not result.accepted and result.transient and not healthy(result), result
    assert router.breaker_state(provider.name) == "open"
    assert any(r.levelno >= logging.WARNING for r in caplog.records), "one clear log line says the credentials were refused"


def test_only_the_kinds_without_a_webhook_report_over_their_own_link(harness: Harness) -> None:
    assert (harness.webhook() is None) == (harness.name not in WEBHOOK_KINDS)


def test_a_signed_report_is_read_a_forged_one_refused_and_a_replay_recognised(webhook_harness: Harness) -> None:
    harness = webhook_harness
    webhook = harness.webhook()
    assert webhook is not None
    message_id = new_id()
    # A provider whose ids have a format of their own (Twilio's SM + 32 hex) makes one; others take any.
    provider_id = harness.provider_id() if hasattr(harness, "provider_id") else f"pm-{uuid.uuid4().hex[:12]}"
    word = next(iter(harness.statuses))
    headers, body = harness.signed_report(message_id, provider_id, word)
    now = time.time()
    assert webhook.verify(headers, body, now)
    parsed = webhook.parse(body)
    events = [o for o in parsed.outputs if o.topic == "provider-events"]
    assert events, f"a delivery report becomes a provider-events record, not {[o.topic for o in parsed.outputs]}"
    assert any(provider_id == e.value["provider_message_id"] or message_id in (e.value.get("message_id") or "") for e in events)
    assert parsed.event_id, "a report carries the provider's event id, which the receiver's replay memory keys on"
    assert webhook.parse(body).event_id == parsed.event_id, "the same request twice is the same event: published once"
    forged_headers, forged_body = harness.forged(headers, body)
    with pytest.raises(Rejected) as refused:
        webhook.verify(forged_headers, forged_body, now)
    assert (refused.value.status, refused.value.reason) == (403, "bad_signature")


def test_every_status_word_becomes_its_receipt_status(harness: Harness) -> None:
    protocol = protocol_of(harness.name)
    wrong = {word: (normalize(word, protocol).status, expected) for word, expected in harness.statuses.items()
             if normalize(word, protocol).status != expected}
    assert not wrong, f"(got, declared) per word: {wrong}"
