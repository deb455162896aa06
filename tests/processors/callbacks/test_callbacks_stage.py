"""The callbacks stage through the runtime's harness, POSTing to a receiver on 127.0.0.1, in a network sandbox (stub
DNS; a connection to any address but loopback fails the test)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from media_http import Network, sandboxed
from receipts import RECIPIENT, T0, context, made
from receiver import Receiver

from processors.access.keys import new_key
from processors.callbacks.sender import CallbackSender
from processors.callbacks.settings import CallbackSettings
from processors.callbacks.signing import verify
from processors.callbacks.stage import CallbacksStage
from processors.rules.addresses import AllowList
from processors.runtime.testing import StageHarness

KEY = new_key("shop", ("messages:send",), T0)
SECRET = "whsec_test-secret"
RECORDS = {KEY.key_id: {**KEY.record, "callback_secret": SECRET}}


@pytest.fixture
def network(monkeypatch) -> Iterator[Network]:
    with sandboxed(monkeypatch) as sandbox:
        yield sandbox
    assert sandbox.refused == [], "a callback tried to reach a non-loopback address"


def harness(receiver: Receiver | None, **settings: float) -> StageHarness:
    config = CallbackSettings(**settings)  # type: ignore[arg-type]
    allow = AllowList.parse(receiver.host if receiver else "")
    return StageHarness(CallbacksStage(RECORDS, CallbackSender(allow, timeout_s=5), config), clock=lambda: T0)


def deliver(h: StageHarness, *receipts, now=T0) -> None:
    """Receipts in, then their ``callbacks`` records fed back as the broker would, each batch at ``now``."""
    for receipt in receipts:
        h.feed("receipt", receipt, key=RECIPIENT)
    made_now = h.run(now=now).get("callbacks", [])
    for record in made_now:
        h.feed("callbacks", record.event, key=record.key)
    h.run(now=now)


def test_every_receipt_is_posted_signed_once_per_receipt_id(network: Network) -> None:
    ctx = context("m-1", api_key_id=KEY.key_id, status_callback="")
    with Receiver() as receiver:
        ctx["status_callback"] = receiver.url
        h = harness(receiver)
        sent, delivered = made("SENT", ctx), made("DELIVERED", ctx, seconds=3)
        deliver(h, sent, delivered, made("SENT", context("m-2")))  # m-2 has no callback: nothing sent for it
        deliver(h, sent)  # the same receipt again (a crash, a replay): not posted twice
    bodies = [json.loads(r.body) for r in receiver.received]
    assert [(b["message_id"], b["status"]) for b in bodies] == [("m-1", "sent"), ("m-1", "delivered")]
    assert [r.headers["courrier-receipt-id"] for r in receiver.received] == [sent["receipt_id"], delivered["receipt_id"]]
    for request in receiver.received:
        assert verify(SECRET, request.headers["courrier-signature"], request.body, T0.timestamp()) == int(T0.timestamp())
    assert bodies[1]["cost_micros"] is None and bodies[0]["cost_micros"] == 45000 and bodies[0]["currency"] == "EUR"


def test_a_receiver_answering_500_is_retried_then_one_callback_failed(network: Network) -> None:
    with Receiver(status=500) as receiver:
        h = harness(receiver, retry_for_s=60, base_delay_s=5, max_delay_s=20)
        deliver(h, made("SENT", context("m-1", api_key_id=KEY.key_id, status_callback=receiver.url)))
        now, dues = T0, []
        while h.outputs.get("retry") and not h.outputs.get("callback-failed"):
            delayed = h.outputs.pop("retry")[-1]
            now = max(now, T0 + timedelta(milliseconds=int(delayed.header("courrier-due-ms")) - int(T0.timestamp() * 1000)))
            dues.append((now - T0).total_seconds())
            h.release(delayed)
            h.run(now=now)
        assert dues == [5, 15, 35, 55, 60]  # 5, 10, 20, 20 s apart, the last try at the window's end
        failed = h.outputs["callback-failed"]
        assert len(failed) == 1 and (failed[0].event["attempt"], failed[0].event["last_error"]) == (6, "HTTP 500")
        assert len(receiver.received) == 6


def test_a_url_now_resolving_inside_the_network_fails_at_once_without_a_packet(network: Network) -> None:
    network.names["hooks.example.com"] = ["10.1.2.3"]
    h = harness(None)
    deliver(h, made("SENT", context("m-1", api_key_id=KEY.key_id, status_callback="https://hooks.example.com/in")))
    failed = h.outputs["callback-failed"]
    assert len(failed) == 1 and "10.1.2.3 (private)" in failed[0].event["last_error"] and "retry" not in h.outputs


def test_a_delivery_its_key_cannot_sign_is_dead_lettered(network: Network) -> None:
    other = new_key("other", ("messages:send",), T0)
    h = StageHarness(CallbacksStage({other.key_id: other.record}, CallbackSender(), CallbackSettings()))
    deliver(h, made("SENT", context("m-1", api_key_id=other.key_id, status_callback="https://hooks.example.com/in")))
    dead = h.outputs["dead-letter"]
    assert len(dead) == 1 and "no callback secret" in dead[0].header("courrier-error-message") and "callback-failed" not in h.outputs
