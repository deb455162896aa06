"""The RBM adapter against the fake RBM on 127.0.0.1: the create request as RBM documents it, RBM's idempotency by
messageId (409), lost answers settled by resending, 404 as not capable, throttling, server errors, auth failures
opening the breaker (one log line, a metric), per-destination order, revoke, and the messageId derivation."""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from common.errors import UnreachableError
from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.provider import Submission
from processors.dispatch.router import Route, Router, healthy
from processors.providers.rbm.adapter import CHANNELS, RbmProvider, rbm_message_id
from processors.providers.rbm.content import read_postback
from processors.providers.rbm.fake import FakeRbm, new_service_account
from processors.providers.rbm.settings import RbmSettings
from tests.processors.providers.rbm.conftest import AGENT

TO = "+33612345678"


def sub(message_id: str | None = None, to: str = TO, text: str = "Your code is 1", rcs: dict | None = None, **extra) -> Submission:
    return Submission(message_id or str(uuid.uuid4()), "courrier-agent-fr", "RCS_AGENT", to, text, "GSM7", channel="RCS",
                      rcs_json=json.dumps(rcs) if rcs is not None else None, **extra)


def auth_failures(cause: str, name: str = "rbm") -> float:
    return REGISTRY.get_sample_value("courrier_rbm_auth_failures_total", {"provider": name, "cause": cause}) or 0.0


def test_a_message_is_one_post_with_its_uuid_the_agent_a_bearer_token_and_expire_time(provider: RbmProvider, fake: FakeRbm) -> None:
    expires = datetime(2030, 3, 2, 9, 0, 30, 123456, tzinfo=timezone.utc)
    (result,) = provider.submit_many([sub("m-1", expires_at=expires)])
    expected_id = rbm_message_id("m-1")
    assert (result.message_id, result.accepted, result.transient, result.provider_message_ids) == ("m-1", True, False, [expected_id])
    (made,) = fake.journal
    assert (made["message_id"], made["phone"], made["agent_id"]) == (expected_id, TO, AGENT)
    assert made["body"] == {"contentMessage": {"text": "Your code is 1"}, "expireTime": "2030-03-02T09:00:30.123Z"}
    assert uuid.UUID(expected_id).version == 5 and CHANNELS == {"RCS"}


def test_rich_content_and_its_suggestions_name_the_message_and_the_button(provider: RbmProvider, fake: FakeRbm) -> None:
    card = {"title": "Your order", "description": "Shipped", "media_url": "https://cdn.example/box.jpg",
            "suggestions": [{"type": "open_url", "text": "Track", "url": "https://t.example/1"}]}
    provider.submit_many([sub("m-card", rcs={**card, "suggestions": card["suggestions"] + [{"type": "dial", "text": "Call", "phone_number": "+331"}]})])
    content = fake.journal[0]["body"]["contentMessage"]["richCard"]["standaloneCard"]["cardContent"]
    assert content["media"] == {"height": "MEDIUM", "contentInfo": {"fileUrl": "https://cdn.example/box.jpg"}}
    track, call = content["suggestions"]
    assert track["action"]["openUrlAction"] == {"url": "https://t.example/1"} and call["action"]["dialAction"] == {"phoneNumber": "+331"}
    assert [read_postback(s["action"]["postbackData"]) for s in (track, call)] == [(rbm_message_id("m-card"), 0), (rbm_message_id("m-card"), 1)]
    provider.submit_many([sub("m-carousel", rcs={"carousel": [card, {"title": "Other"}], "suggestions": [{"type": "reply", "text": "STOP"}]})])
    carousel = fake.journal[1]["body"]["contentMessage"]
    assert len(carousel["richCard"]["carouselCard"]["cardContents"]) == 2
    assert read_postback(carousel["suggestions"][0]["reply"]["postbackData"]) == (rbm_message_id("m-carousel"), 1)


def test_the_same_submission_sent_again_is_accepted_before_and_made_once(provider: RbmProvider, fake: FakeRbm) -> None:
    first, again = provider.submit_many([sub("m-1")]), provider.submit_many([sub("m-1")])
    assert first[0].accepted and again[0].accepted and again[0].detail == "already_accepted"
    assert again[0].provider_message_ids == first[0].provider_message_ids and fake.times_made(rbm_message_id("m-1")) == 1


def test_a_lost_answer_is_settled_at_once_by_resending_the_same_message_id(provider: RbmProvider, fake: FakeRbm) -> None:
    fake.fail_next("lost_answer")
    (result,) = provider.submit_many([sub("m-lost")])
    assert result.accepted and result.detail == "reconciled" and fake.times_made(rbm_message_id("m-lost")) == 1
    assert [outcome for _route, outcome in fake.requests] == ["lost", "409"]


def test_a_lost_answer_not_settled_in_the_call_is_unknown_and_reconcile_finds_it(provider: RbmProvider, fake: FakeRbm) -> None:
    fake.fail_next("lost_answer", "503")  # the in-call resend meets an outage
    (result,) = provider.submit_many([sub("m-lost")])
    assert (result.accepted, result.transient, result.detail) == (False, True, "connection_lost") and not healthy(result)
    found = provider.reconcile("m-lost", "RCS")
    assert found is not None and found.accepted and found.provider_message_ids == [rbm_message_id("m-lost")]
    assert fake.times_made(rbm_message_id("m-lost")) == 1


def test_reconcile_of_a_message_this_process_did_not_send_leaves_it_to_a_resubmit(provider: RbmProvider, fake: FakeRbm) -> None:
    """After a restart nothing is remembered: None lets dispatch resubmit, which RBM answers 409 when it had it."""
    other = RbmProvider(provider._settings)
    other.open()
    try:
        fake.fail_next("lost_answer", "503")
        other.submit_many([sub("m-restart")])
    finally:
        other.close()
    assert provider.reconcile("m-restart", "RCS") is None
    (resubmitted,) = provider.submit_many([sub("m-restart")])
    assert resubmitted.accepted and resubmitted.detail == "already_accepted" and fake.times_made(rbm_message_id("m-restart")) == 1


def test_a_user_rbm_cannot_reach_is_a_permanent_rcs_not_capable(provider: RbmProvider, fake: FakeRbm) -> None:
    fake.not_capable.add(TO)
    (result,) = provider.submit_many([sub()])
    assert (result.accepted, result.transient, result.error_code, result.detail) == (False, False, "NOT_FOUND", "rcs_not_capable")
    assert healthy(result)


def test_429_is_retried_after_retry_after_then_transient_throttled_and_rbm_counts_alive(provider: RbmProvider, fake: FakeRbm) -> None:
    fake.fail_next("429")
    assert provider.submit_many([sub("m-1")])[0].accepted
    fake.fail_next("429", "429", "429")
    (result,) = provider.submit_many([sub("m-2")])
    assert (result.transient, result.detail, result.error_code) == (True, "throttled", "RESOURCE_EXHAUSTED") and healthy(result)
    assert fake.times_made(rbm_message_id("m-2")) == 0


def test_503_is_transient_and_not_sent_and_500_is_resent_with_the_same_id(provider: RbmProvider, fake: FakeRbm) -> None:
    fake.fail_next("503")
    (unavailable,) = provider.submit_many([sub("m-503")])
    assert (unavailable.transient, unavailable.detail) == (True, "provider_unavailable") and not healthy(unavailable)
    fake.fail_next("500")
    (server_error,) = provider.submit_many([sub("m-500")])
    assert server_error.accepted and fake.times_made(rbm_message_id("m-500")) == 1


@pytest.mark.parametrize("fault", ["401", "403"])
def test_auth_failures_are_transient_open_the_breaker_log_once_and_count(provider: RbmProvider, fake: FakeRbm, fault: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    before = auth_failures(fault)
    router = Router([Route(provider, CHANNELS)], BreakerPolicy(failures=3, window=3, cooldown_s=60, max_cooldown_s=60))
    router._opened.add(provider.name)
    fake.fail_next(fault, fault, fault)
    with caplog.at_level(logging.ERROR, logger="processors.providers.rbm.adapter"):
        results = [router.submit([(provider, sub())], 5.0)[0] for _ in range(3)]
    assert all((r.transient, r.detail) == (True, "provider_auth_failed") and not healthy(r) for r in results)
    assert router.breaker_state(provider.name) == "open" and router.choose("RCS") is None
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1 and auth_failures(fault) == before + 3
    assert fake.journal == []


def test_a_refused_token_is_dropped_so_the_next_send_fetches_a_new_one(provider: RbmProvider, fake: FakeRbm) -> None:
    provider.submit_many([sub()])
    fake.forget_tokens()  # expired or revoked on Google's side
    (refused,) = provider.submit_many([sub("m-1")])
    assert refused.detail == "provider_auth_failed" and fake.tokens_issued == 1
    assert provider.submit_many([sub("m-1")])[0].accepted and fake.tokens_issued == 2


def test_one_token_serves_many_sends(provider: RbmProvider, fake: FakeRbm) -> None:
    results = provider.submit_many([sub(to=f"+336123456{i:02d}") for i in range(30)])
    assert all(r.accepted for r in results) and fake.tokens_issued == 1 and provider.tokens.refreshes == 1


def test_the_token_endpoint_refusing_the_account_is_an_auth_failure(provider: RbmProvider, fake: FakeRbm) -> None:
    before = auth_failures("token")
    fake.forget_tokens()
    provider.tokens.invalidate()
    fake.fail_next("400", route="token")
    (result,) = provider.submit_many([sub()])
    assert (result.transient, result.detail, result.error_code) == (True, "provider_auth_failed", "token_refused")
    assert auth_failures("token") == before + 1 and fake.journal == []


def test_the_token_endpoint_down_is_unreachable_not_sent(provider: RbmProvider, fake: FakeRbm) -> None:
    provider.tokens.invalidate()
    fake.fail_next("503", "503", "503", route="token")  # google-auth retries a 5xx itself, then gives up
    (result,) = provider.submit_many([sub()], timeout_s=10)
    assert (result.transient, result.detail, result.error_code) == (True, "provider_unreachable", "token_unavailable")
    assert not healthy(result) and fake.journal == []


def test_open_names_the_key_file_when_the_token_endpoint_refuses_it(settings_for: Callable[..., RbmSettings], fake: FakeRbm,
                                                                     tmp_path) -> None:
    stranger = tmp_path / "other.json"
    stranger.write_text(json.dumps(new_service_account(fake.token_uri)))
    with pytest.raises(UnreachableError, match="COURRIER_RBM_SERVICE_ACCOUNT_FILE"):
        RbmProvider(settings_for(service_account_file=stranger)).open()


def test_one_destinations_messages_leave_in_order_and_wait_behind_a_transient_one(provider: RbmProvider, fake: FakeRbm) -> None:
    fake.fail_next("503", phone=TO)
    results = provider.submit_many([sub("a-1"), sub("b-1", to="+33612345679"), sub("a-2")])
    assert [r.detail for r in results] == ["provider_unavailable", None, "held_for_order"]
    assert [m["message_id"] for m in fake.journal] == [rbm_message_id("b-1")]


def test_bad_content_and_other_channels_are_permanent_refusals(provider: RbmProvider, fake: FakeRbm) -> None:
    bad = Submission("m-bad", "a", "RCS_AGENT", TO, "x", "GSM7", channel="RCS", rcs_json="{not json")
    sms = Submission("m-sms", "a", "LONG_CODE", TO, "x", "GSM7", channel="SMS")
    assert [(r.transient, r.detail) for r in provider.submit_many([bad, sms])] == [
        (False, "invalid_rcs_content"), (False, "channel_not_supported")]
    assert fake.journal == []


def test_revoke_withdraws_an_undelivered_message_and_says_when_it_was_delivered(provider: RbmProvider, fake: FakeRbm) -> None:
    provider.submit_many([sub("m-pending"), sub("m-delivered", to="+33612345679")])
    fake.deliver(rbm_message_id("m-delivered"))
    assert provider.revoke("m-pending", TO) is True and fake.made(rbm_message_id("m-pending"))["revoked"]
    assert provider.revoke("m-delivered", "+33612345679") is False
    fake.fail_next("503", route="revoke")
    assert provider.revoke("m-pending", TO) is None


def test_revoke_with_rbm_unreachable_cannot_say(settings_for: Callable[..., RbmSettings], fake: FakeRbm) -> None:
    provider = RbmProvider(settings_for(request_timeout_s=0.5))
    provider.open()
    fake.stop()
    try:
        assert provider.revoke("m-1", TO) is None
    finally:
        provider.close()


@given(st.text(min_size=1, max_size=80))
def test_the_message_id_is_a_stable_uuid_of_the_submission_id(submission_id: str) -> None:
    derived = rbm_message_id(submission_id)
    assert derived == rbm_message_id(submission_id) and str(uuid.UUID(derived)) == derived
    assert rbm_message_id(submission_id + "#sms-fallback") != derived


def test_expire_time_is_the_messages_validity_end(provider: RbmProvider, fake: FakeRbm) -> None:
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)
    provider.submit_many([sub(expires_at=soon)])
    assert datetime.fromisoformat(fake.journal[0]["body"]["expireTime"]) == soon.replace(microsecond=soon.microsecond // 1000 * 1000)
