"""What a receipt becomes for its callback, and what a refused try becomes (pure)."""
from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, strategies as st
from receipts import T0, context, made

from processors.callbacks.logic import after_failure, delay_s, delivery
from processors.callbacks.settings import CallbackSettings

SETTINGS = CallbackSettings(retry_for_s=24 * 3600, base_delay_s=5, max_delay_s=3600)


def test_only_a_message_with_a_callback_gets_a_delivery_and_its_body_is_the_receipt() -> None:
    assert delivery(made("SENT"), T0) is None
    receipt = made("DELIVERED", context("m-9", campaign_id="spring", variant="B", api_key_id="k1", status_callback="https://h/x"))
    out = delivery(receipt, T0)
    assert out is not None and (out.topic, out.key) == ("callbacks", "m-9")
    assert (out.value["url"], out.value["api_key_id"], out.value["attempt"], out.value["receipt_id"]) == (
        "https://h/x", "k1", 0, receipt["receipt_id"])
    body = json.loads(out.value["body"])
    assert (body["status"], body["channel"], body["terminal"], body["variant"]) == ("delivered", "sms", True, "B")
    assert body["occurred_at"] == receipt["occurred_at"].isoformat()


def test_a_refused_try_is_retried_within_the_window_then_fails_once() -> None:
    first = delivery(made("SENT", context(status_callback="https://h/x", api_key_id="k1")), T0).value
    retry = after_failure(first, "HTTP 503", T0, SETTINGS)
    assert (retry.topic, retry.deliver_at, retry.value["attempt"], retry.value["last_error"]) == (
        "callbacks", T0 + timedelta(seconds=5), 1, "HTTP 503")
    late = after_failure(retry.value, "HTTP 503", T0 + timedelta(hours=23, minutes=59, seconds=55), SETTINGS)
    assert late.deliver_at == T0 + timedelta(hours=24)  # one last try at the window's end
    over = after_failure(late.value, "HTTP 503", T0 + timedelta(hours=24), SETTINGS)
    assert (over.topic, over.deliver_at, over.value["attempt"]) == ("callback-failed", None, 3)
    blocked = after_failure(first, "refused", T0, SETTINGS, permanent=True)
    assert blocked.topic == "callback-failed"


@given(st.integers(1, 10_000))
def test_the_backoff_doubles_up_to_its_cap(attempt: int) -> None:
    assert delay_s(attempt, SETTINGS) == min(3600, 5 * 2 ** (attempt - 1))
