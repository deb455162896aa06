"""The ``vonage`` provider kind as the registry builds it: its channels, the adapter and the webhook named after the
configured instance, options winning over the environment, the check naming a missing setting, and the health word."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from common.config import Settings
from processors.dispatch.provider import Submission
from processors.providers.registry import ProviderContext, kind
from processors.providers.vonage.fake import FakeVonage, running
from processors.providers.vonage.plugin import KIND
from processors.providers.vonage.settings import VonageConfigError, VonageSettings


@pytest.fixture(autouse=True)
def _no_vonage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_KEY", "API_SECRET", "API_SECRET_FILE", "SIGNATURE_SECRET", "SIGNATURE_SECRET_FILE", "API_URL",
                 "STATUS_WEBHOOK_URL"):
        monkeypatch.delenv(f"COURRIER_VONAGE_{name}", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    with running() as started:
        yield started


def context(fake: FakeVonage, name: str = "vonage-eu", **options: object) -> ProviderContext:
    values = {"api_key": fake.api_key, "api_secret": fake.api_secret, "signature_secret": fake.signature_secret,
              "api_url": fake.url, **options}
    return ProviderContext(name, values, Settings())


def test_the_kind_sends_sms_and_has_a_webhook_but_no_capability_lookup() -> None:
    assert (KIND.kind, KIND.channels, KIND.settings, KIND.capability) == ("vonage", frozenset({"SMS"}), VonageSettings, None)
    assert kind("vonage") is KIND


def test_the_adapter_is_named_after_the_instance_and_options_win_over_the_environment(fake: FakeVonage,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURRIER_VONAGE_API_KEY", "from-env")
    provider = KIND.dispatch(context(fake))
    provider.open()
    try:
        (result,) = provider.submit_many([Submission(str(uuid.uuid4()), "+15005550006", "LONG_CODE", "+14155550100", "hi", "GSM7")])
    finally:
        provider.close()
    assert provider.name == "vonage-eu" and result.accepted


def test_the_webhook_is_named_after_the_instance_and_checks_the_jwt(fake: FakeVonage) -> None:
    hook = KIND.webhook(context(fake)) if KIND.webhook else None
    assert hook is not None and hook.name == "vonage-eu"
    body = fake.inbound_body("14155550100", "15005550006", "STOP")
    assert hook.verify(fake.signed_headers(body), body, time.time())
    assert hook.parse(body).outputs[0].value["provider"] == "vonage-eu"  # type: ignore[index]


def test_the_check_names_the_first_missing_setting(fake: FakeVonage) -> None:
    KIND.check(context(fake))
    with pytest.raises(VonageConfigError, match="^COURRIER_VONAGE_API_KEY is not set"):
        KIND.check(context(fake, api_key=""))
    with pytest.raises(VonageConfigError, match="^COURRIER_VONAGE_SIGNATURE_SECRET") as missing:
        KIND.check(context(fake, signature_secret=""))
    assert fake.api_secret not in str(missing.value)


def test_health_says_reachable_refused_unreachable_or_missing(fake: FakeVonage) -> None:
    assert KIND.health(context(fake)) == "reachable" and fake.journal == []
    assert KIND.health(context(fake, api_secret="rotated")) == "credentials refused (HTTP 401)"
    assert KIND.health(context(fake, api_key="")) == "credentials missing: COURRIER_VONAGE_API_KEY"
    with running() as gone:
        url = gone.url
    assert KIND.health(context(fake, api_url=url)) == "unreachable: ConnectError"
