"""The Vonage adapter against the fake Vonage on 127.0.0.1: the send request as Vonage documents it, throttling, server
errors, lost answers (transient and unknown, never resent), refused credentials opening the breaker with one log line
and a counter, refusal codes, per-destination order, and settings that name what is missing."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.logic import UNKNOWN_OUTCOMES, after_answer
from processors.dispatch.provider import Submission
from processors.dispatch.router import Route, Router, healthy
from processors.providers.vonage.adapter import CHANNELS, MAX_TTL_S, VonageProvider, request_body, ttl
from processors.providers.vonage.fake import FakeVonage, running
from processors.providers.vonage.settings import VonageConfigError, VonageSettings

WEBHOOK = "https://hooks.example/webhooks/vonage"
SENDER, TO = "+15005550006", "+14155550100"


def sub(message_id: str | None = None, to: str = TO, text: str = "Your code is 1", channel: str = "SMS", sender: str = SENDER,
        **extra) -> Submission:
    return Submission(message_id or str(uuid.uuid4()), sender, "LONG_CODE", to, text, extra.pop("encoding", "GSM7"),
                      channel=channel, **extra)


def settings_for(fake: FakeVonage, **overrides) -> VonageSettings:
    values = {"api_key": fake.api_key, "api_secret": fake.api_secret, "api_url": fake.url, "status_webhook_url": WEBHOOK,
              "request_timeout_s": 1.0, "throttle_retries": 2, **overrides}
    return VonageSettings(**values)


@pytest.fixture(autouse=True)
def _no_vonage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_KEY", "API_SECRET", "API_SECRET_FILE", "SIGNATURE_SECRET", "SIGNATURE_SECRET_FILE", "API_URL",
                 "STATUS_WEBHOOK_URL"):
        monkeypatch.delenv(f"COURRIER_VONAGE_{name}", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    with running() as started:
        yield started


@pytest.fixture
def provider(fake: FakeVonage) -> Iterator[VonageProvider]:
    opened = VonageProvider(settings_for(fake))
    opened.open()
    yield opened
    opened.close()


def test_an_sms_is_one_json_post_with_client_ref_webhook_url_ttl_and_encoding(provider: VonageProvider, fake: FakeVonage) -> None:
    expires = datetime.now(timezone.utc) + timedelta(minutes=10)
    (result,) = provider.submit_many([sub("m-1", expires_at=expires)])
    assert (result.message_id, result.accepted, result.transient) == ("m-1", True, False)
    (made,) = fake.journal
    assert result.provider_message_ids == [made["message_uuid"]] and uuid.UUID(made["message_uuid"])
    assert (made["to"], made["from"], made["text"], made["client_ref"], made["webhook_url"]) == (
        "14155550100", "15005550006", "Your code is 1", "m-1", WEBHOOK)
    assert made["sms"] == {"encoding_type": "text"} and 590 <= made["ttl"] <= 600
    assert provider.name == "vonage" and CHANNELS == {"SMS"}


def test_the_body_follows_the_message_ucs2_an_alphanumeric_sender_and_no_webhook_url() -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    body = request_body(sub("m-2", sender="ACME", text="Ça marche", encoding="UCS2"), "", now)
    assert body == {"message_type": "text", "channel": "sms", "to": "14155550100", "from": "ACME", "text": "Ça marche",
                    "client_ref": "m-2", "sms": {"encoding_type": "unicode"}}
    assert request_body(sub(sender="12345"), "", now)["from"] == "12345"


@given(st.floats(min_value=-1e6, max_value=1e7, allow_nan=False))
def test_ttl_is_whole_seconds_within_one_second_and_72_hours(seconds: float) -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    value = ttl(now + timedelta(seconds=seconds), now)
    assert 1 <= value <= MAX_TTL_S and (value >= seconds or value == MAX_TTL_S)


def test_429_is_retried_after_retry_after(provider: VonageProvider, fake: FakeVonage) -> None:
    fake.retry_after = "0.05"
    fake.fail_next("429")
    (result,) = provider.submit_many([sub()])
    assert result.accepted and fake.sends == 2 and len(fake.journal) == 1


def test_429_past_the_retries_is_transient_throttling_that_proves_vonage_alive(provider: VonageProvider, fake: FakeVonage) -> None:
    fake.retry_after = "0.05"
    fake.fail_next("429", "429", "429")
    (result,) = provider.submit_many([sub()])
    assert (result.accepted, result.transient, result.error_code, result.detail) == (False, True, "1000", "throttled")
    assert healthy(result) and fake.journal == []


def test_503_is_transient_and_not_sent(provider: VonageProvider, fake: FakeVonage) -> None:
    fake.fail_next("503")
    (result,) = provider.submit_many([sub("m-503")])
    assert (result.transient, result.detail, result.error_code) == (True, "provider_unavailable", "1030")
    assert after_answer(result) == "FAILED"  # certainly not made: dispatch may send it again later


@pytest.mark.parametrize(("fault", "detail"), [("500", "connection_lost"), ("lost_answer", "connection_lost"), ("slow", "timeout")])
def test_an_answer_lost_after_the_request_left_is_an_unknown_outcome_never_resent(fake: FakeVonage, fault: str, detail: str) -> None:
    fake.slow_s = 1.0
    quick = VonageProvider(settings_for(fake, request_timeout_s=0.3))
    quick.open()
    try:
        fake.fail_next(fault)
        (result,) = quick.submit_many([sub("m-lost")], timeout_s=5)
    finally:
        quick.close()
    assert (result.accepted, result.transient, result.detail) == (False, True, detail)
    assert detail in UNKNOWN_OUTCOMES and after_answer(result) is None  # the ledger keeps SUBMITTING: never sent again
    assert not healthy(result) and not hasattr(quick, "reconcile")  # no lookup by client_ref exists
    assert len(fake.made_for("m-lost")) == (0 if fault == "500" else 1)


def test_refusals_are_permanent_with_vonages_code(provider: VonageProvider, fake: FakeVonage) -> None:
    fake.fail_next("422")
    (refused,) = provider.submit_many([sub()])  # alone: the fault is for whichever request comes first
    bad_number, too_long = provider.submit_many([sub(to="+1"), sub(to="+14155550122", text="x" * 1001)])
    assert {(r.transient, r.error_code, r.detail) for r in (refused, bad_number, too_long)} == {(False, "1020", "invalid_request")}
    assert healthy(refused) and fake.journal == []


def test_another_channel_is_refused_without_a_request(provider: VonageProvider, fake: FakeVonage) -> None:
    (result,) = provider.submit_many([sub(channel="RCS")])
    assert (result.transient, result.detail) == (False, "channel_not_supported") and fake.sends == 0


def test_one_destinations_messages_leave_in_order_and_wait_behind_a_transient_one(provider: VonageProvider, fake: FakeVonage) -> None:
    batch = [sub(f"o-{i}", text=f"#{i}") for i in range(4)] + [sub("other", to="+14155550199")]
    assert all(r.accepted for r in provider.submit_many(batch))
    assert [m["text"] for m in fake.journal if m["to"] == "14155550100"] == ["#0", "#1", "#2", "#3"]
    fake.journal.clear()
    fake.fail_next("503")
    results = provider.submit_many([sub(f"h-{i}", text=f"#{i}") for i in range(3)])
    assert [r.detail for r in results] == ["provider_unavailable", "held_for_order", "held_for_order"] and fake.journal == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_account_opens_the_breaker_with_one_log_line_and_a_count(fake: FakeVonage, status: int,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    name = f"vonage-{status}-{uuid.uuid4().hex[:6]}"
    provider = VonageProvider(settings_for(fake), name=name)
    provider.open()
    router = Router([Route(provider, CHANNELS)], BreakerPolicy(failures=3, window=5))
    fake.fail_next(*[str(status)] * 4)
    try:
        with caplog.at_level(logging.ERROR, logger="processors.providers.vonage.adapter"):
            results = router.submit([(provider, sub(to=f"+1415555020{i}")) for i in range(4)], timeout_s=5)
    finally:
        provider.close()
    code = "unauthorized" if status == 401 else "forbidden"
    assert {(r.transient, r.error_code, r.detail) for r in results} == {(True, code, "provider_auth_failed")}
    assert router.breaker_state(name) == "open" and fake.journal == []
    (line,) = [r for r in caplog.records if "refused the account" in r.getMessage()]
    assert "COURRIER_VONAGE_API_SECRET" in line.getMessage() and fake.api_secret not in caplog.text
    assert REGISTRY.get_sample_value("courrier_vonage_auth_refused_total", {"provider": name, "status": str(status)}) == 4


def test_wrong_credentials_are_refused_by_the_fake_too(fake: FakeVonage) -> None:
    provider = VonageProvider(settings_for(fake, api_secret="rotated"))
    provider.open()
    try:
        (result,) = provider.submit_many([sub()])
    finally:
        provider.close()
    assert (result.transient, result.detail, result.error_code) == (True, "provider_auth_failed", "unauthorized")


def test_an_unreachable_api_is_transient_and_not_sent() -> None:
    with running() as gone:
        url = gone.url
    provider = VonageProvider(VonageSettings(api_key="k", api_secret="s", api_url=url))
    provider.open()
    try:
        (result,) = provider.submit_many([sub()])
    finally:
        provider.close()
    assert (result.transient, result.detail) == (True, "provider_unreachable") and after_answer(result) == "FAILED"


def test_missing_credentials_name_the_setting_never_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(VonageConfigError, match="^COURRIER_VONAGE_API_KEY is not set"):
        VonageProvider(VonageSettings())
    monkeypatch.setenv("COURRIER_VONAGE_API_KEY", "abcd1234")
    with pytest.raises(VonageConfigError, match=r"^COURRIER_VONAGE_API_SECRET \(or COURRIER_VONAGE_API_SECRET_FILE\) is not set"):
        VonageProvider(VonageSettings())
    with pytest.raises(VonageConfigError, match=r"^COURRIER_VONAGE_SIGNATURE_SECRET \(or COURRIER_VONAGE_SIGNATURE_SECRET_FILE\)"):
        VonageSettings().signature_secret_value()
    monkeypatch.setenv("COURRIER_VONAGE_API_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(VonageConfigError, match="^COURRIER_VONAGE_API_SECRET_FILE .* is unreadable"):
        VonageSettings().credentials()
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("COURRIER_VONAGE_API_SECRET_FILE", str(tmp_path / "empty"))
    with pytest.raises(VonageConfigError, match="^COURRIER_VONAGE_API_SECRET_FILE .* is empty"):
        VonageSettings().credentials()
    (tmp_path / "secret").write_text("s3cret-from-file\nignored\n")
    monkeypatch.setenv("COURRIER_VONAGE_API_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("COURRIER_VONAGE_API_SECRET", "s3cret-from-env")
    settings = VonageSettings()
    assert settings.credentials().api_secret.get_secret_value() == "s3cret-from-file"
    assert "s3cret" not in repr(settings.credentials()) and "s3cret" not in repr(settings)
