"""The Twilio adapter against the fake Twilio on 127.0.0.1: the create request as Twilio documents it, throttling,
server errors, lost answers reconciled by listing (found, or never got it), auth failures opening the breaker,
refusal codes, per-destination order, and settings that name what is missing."""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from common.errors import UnreachableError
from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.provider import Submission
from processors.dispatch.router import Route, Router, healthy
from processors.providers.twilio.adapter import CHANNELS, TwilioProvider, validity_period
from processors.providers.twilio.fake import FakeTwilio, running
from processors.providers.twilio.settings import TwilioConfigError, TwilioSettings

CALLBACK = "https://hooks.example/webhooks/twilio"
SENDER, TO = "+15005550006", "+14155550100"


def sub(message_id: str | None = None, to: str = TO, text: str = "Your code is 1", channel: str = "SMS", **extra) -> Submission:
    return Submission(message_id or str(uuid.uuid4()), SENDER, "LONG_CODE", to, text, "GSM7", channel=channel, **extra)


def settings_for(fake: FakeTwilio, **overrides) -> TwilioSettings:
    values = {"account_sid": fake.account_sid, "auth_token": fake.auth_token, "api_url": fake.url, "status_callback_url": CALLBACK,
              "request_timeout_s": 1.0, "throttle_retries": 2, **overrides}
    return TwilioSettings(**values)


@pytest.fixture(autouse=True)
def _no_twilio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACCOUNT_SID", "AUTH_TOKEN", "AUTH_TOKEN_FILE", "MESSAGING_SERVICE_SID", "API_URL", "STATUS_CALLBACK_URL", "WEBHOOK_URL"):
        monkeypatch.delenv(f"COURRIER_TWILIO_{name}", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running() as started:
        yield started


@pytest.fixture
def provider(fake: FakeTwilio) -> Iterator[TwilioProvider]:
    opened = TwilioProvider(settings_for(fake))
    opened.open()
    yield opened
    opened.close()


def test_an_sms_is_one_form_post_with_to_from_body_callback_and_validity(provider: TwilioProvider, fake: FakeTwilio) -> None:
    expires = datetime.now(timezone.utc) + timedelta(minutes=10)
    (result,) = provider.submit_many([sub("m-1", expires_at=expires)])
    assert (result.message_id, result.accepted, result.transient) == ("m-1", True, False)
    (made,) = fake.journal
    assert result.provider_message_ids == [made["sid"]] and made["sid"].startswith("SM") and len(made["sid"]) == 34
    assert (made["to"], made["from"], made["body"], made["status_callback"]) == (TO, SENDER, "Your code is 1", CALLBACK)
    assert 590 <= int(made["validity_period"]) <= 600
    assert provider.name == "twilio" and CHANNELS == {"SMS", "MMS"}


def test_an_mms_repeats_media_url(provider: TwilioProvider, fake: FakeTwilio) -> None:
    media = ("https://cdn.example/a.jpg", "https://cdn.example/b.png")
    (result,) = provider.submit_many([sub(channel="MMS", media_urls=media)])
    assert result.accepted and result.provider_message_ids[0].startswith("MM")
    assert fake.journal[0]["media_urls"] == list(media)


def test_a_messaging_service_replaces_from(fake: FakeTwilio) -> None:
    service = "MG" + "1" * 32
    with_service = TwilioProvider(settings_for(fake, messaging_service_sid=service))
    with_service.open()
    try:
        assert with_service.submit_many([sub()])[0].accepted
    finally:
        with_service.close()
    assert (fake.journal[0]["from"], fake.journal[0]["messaging_service_sid"]) == (None, service)


@pytest.mark.parametrize(("seconds", "expected"), [(0.2, 1), (59.5, 60), (3_600, 3_600), (36_000, 36_000), (172_800, 36_000), (-5, 1)])
def test_validity_period_is_whole_seconds_within_twilios_range(seconds: float, expected: int) -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    assert validity_period(now + timedelta(seconds=seconds), now) == expected


def test_429_is_retried_after_retry_after(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.retry_after = "0.3"
    fake.fail_next("429")
    started = time.monotonic()
    (result,) = provider.submit_many([sub()])
    assert result.accepted and fake.creates == 2 and len(fake.journal) == 1
    assert time.monotonic() - started >= 0.3


def test_429_past_the_retries_is_transient_throttling_that_proves_twilio_alive(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.retry_after = "0.05"
    fake.fail_next("429", "429", "429")
    (result,) = provider.submit_many([sub()])
    assert (result.accepted, result.transient, result.error_code, result.detail) == (False, True, "20429", "throttled")
    assert healthy(result) and fake.journal == []


def test_503_is_transient_and_not_sent(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.fail_next("503")
    (result,) = provider.submit_many([sub("m-503")])
    assert (result.transient, result.detail) == (True, "provider_unavailable")
    assert provider.reconcile("m-503") is None  # a refusal: certainly not made


def test_500_is_an_unknown_outcome_and_reconcile_says_never_got_it(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.fail_next("500")
    (result,) = provider.submit_many([sub("m-500")])
    assert (result.accepted, result.transient, result.detail) == (False, True, "connection_lost")
    assert not healthy(result)  # a server error counts against the breaker
    assert provider.reconcile("m-500") is None
    (again,) = provider.submit_many([sub("m-500")])  # only now may it go again
    assert again.accepted and len(fake.journal) == 1


def test_a_timeout_is_found_at_once_when_time_remains(fake: FakeTwilio) -> None:
    fake.slow_s = 1.0
    fast = TwilioProvider(settings_for(fake, request_timeout_s=0.3))
    fast.open()
    try:
        fake.fail_next("slow")
        (result,) = fast.submit_many([sub("m-slow")], timeout_s=5)
    finally:
        fast.close()
    (made,) = fake.journal
    assert (result.accepted, result.provider_message_ids, result.detail) == (True, [made["sid"]], "reconciled")
    assert fake.creates == 1


def test_a_timeout_past_the_call_is_reconciled_later_never_sent_twice(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.slow_s = 1.0
    fake.fail_next("slow")
    (result,) = provider.submit_many([sub("m-late")], timeout_s=0.4)
    assert (result.accepted, result.transient, result.detail) == (False, True, "timeout")
    time.sleep(1.0)  # the fake made it meanwhile
    found = provider.reconcile("m-late")
    assert found is not None and found.accepted and found.provider_message_ids == [fake.journal[0]["sid"]]
    assert provider.reconcile("m-late") == found and fake.creates == 1


def test_an_older_identical_message_is_not_taken_for_the_lost_one(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.add_message(TO, SENDER, "Your code is 1", datetime.now(timezone.utc) - timedelta(hours=1))
    fake.fail_next("500")
    provider.submit_many([sub("m-old")])
    assert provider.reconcile("m-old") is None


def test_a_message_this_process_never_sent_is_not_sent_again(provider: TwilioProvider) -> None:
    found = provider.reconcile("sent-before-a-restart")
    assert found is not None and (found.accepted, found.provider_message_ids, found.detail) == (True, [], "outcome_unknown")


def test_refusal_codes_are_permanent_with_their_reason(provider: TwilioProvider, fake: FakeTwilio) -> None:
    fake.unsubscribed.add("+14155550111")
    bad, unsubscribed, empty = provider.submit_many([sub(to="+1"), sub(to="+14155550111"), sub(to="+14155550122", text="")])
    assert (bad.transient, bad.error_code, bad.detail) == (False, "21211", "invalid_destination")
    assert (unsubscribed.transient, unsubscribed.error_code, unsubscribed.detail) == (False, "21610", "recipient_unsubscribed")
    assert (empty.transient, empty.error_code, empty.detail) == (False, "21602", "invalid_request")
    assert fake.journal == []


def test_one_destinations_messages_leave_in_order_and_wait_behind_a_transient_one(provider: TwilioProvider, fake: FakeTwilio) -> None:
    batch = [sub(f"o-{i}", text=f"#{i}") for i in range(4)] + [sub("other", to="+14155550199")]
    assert all(r.accepted for r in provider.submit_many(batch))
    assert [m["body"] for m in fake.journal if m["to"] == TO] == ["#0", "#1", "#2", "#3"]
    fake.journal.clear()
    fake.fail_next("503")
    results = provider.submit_many([sub(f"h-{i}", text=f"#{i}") for i in range(3)])
    assert [r.detail for r in results] == ["provider_unavailable", "held_for_order", "held_for_order"] and fake.journal == []


def test_refused_credentials_open_the_breaker_with_one_log_line(provider: TwilioProvider, fake: FakeTwilio,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    router = Router([Route(provider, CHANNELS)], BreakerPolicy(failures=3, window=5))
    fake.auth_token = "rotated"
    with caplog.at_level(logging.ERROR, logger="processors.providers.twilio.adapter"):
        results = router.submit([(provider, sub(to=f"+1415555020{i}")) for i in range(4)], timeout_s=5)
    assert {(r.transient, r.error_code, r.detail) for r in results} == {(True, "20003", "provider_auth_failed")}
    assert router.breaker_state("twilio") == "open" and fake.journal == []
    (line,) = [r for r in caplog.records if "refused the credentials" in r.getMessage()]
    assert "COURRIER_TWILIO_AUTH_TOKEN" in line.getMessage() and "rotated" not in caplog.text and "fake-auth-token" not in caplog.text


def test_open_names_the_settings_when_twilio_refuses_or_is_gone(fake: FakeTwilio) -> None:
    with pytest.raises(UnreachableError, match=r"HTTP 401, code 20003.*COURRIER_TWILIO_AUTH_TOKEN"):
        TwilioProvider(settings_for(fake, auth_token="wrong")).open()
    with running() as gone:
        url = gone.url
    with pytest.raises(UnreachableError, match="did not answer.*COURRIER_TWILIO_API_URL"):
        TwilioProvider(settings_for(fake, api_url=url)).open()


def test_missing_credentials_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TwilioConfigError, match="^COURRIER_TWILIO_ACCOUNT_SID is not set"):
        TwilioProvider(TwilioSettings())
    monkeypatch.setenv("COURRIER_TWILIO_ACCOUNT_SID", "AC" + "2" * 32)
    with pytest.raises(TwilioConfigError, match=r"^COURRIER_TWILIO_AUTH_TOKEN \(or COURRIER_TWILIO_AUTH_TOKEN_FILE\) is not set"):
        TwilioProvider(TwilioSettings())
    monkeypatch.setenv("COURRIER_TWILIO_AUTH_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(TwilioConfigError, match="^COURRIER_TWILIO_AUTH_TOKEN_FILE .* is unreadable"):
        TwilioSettings().credentials()
    (tmp_path / "token").write_text("s3cret-from-file\n")
    monkeypatch.setenv("COURRIER_TWILIO_AUTH_TOKEN_FILE", str(tmp_path / "token"))
    settings = TwilioSettings()
    assert settings.credentials().auth_token.get_secret_value() == "s3cret-from-file"
    assert "s3cret" not in repr(settings.credentials()) and "s3cret" not in repr(settings)


def test_dispatch_built_with_twilio_and_no_account_stops_naming_the_setting() -> None:
    from common.config import Settings
    from processors.catalog import _dispatch

    with pytest.raises(TwilioConfigError, match="^COURRIER_TWILIO_ACCOUNT_SID is not set"):
        _dispatch(Settings(dispatch_providers="twilio"))
