"""The ``smpp`` provider kind as the registry builds it: named instances, options over the environment over the older
settings, the password only by reference, the check naming what is missing, and the health words — against an SMSC
of this module's own."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config import Settings
from common.secret_settings import ConfigError
from processors.providers.deployment import load_deployment
from processors.dispatch.provider import Submission
from processors.providers.registry import ProviderContext, kind
from processors.providers.smpp.fake import SmscProxy
from processors.providers.smpp.plugin import KIND
from processors.providers.smpp.settings import SmppConfigError, SmppSettings
from tests.processors.providers.smpp.harness import free_port, private_smsc

pytestmark = pytest.mark.integration
NEW_FIELDS = ("PASSWORD", "PASSWORD_FILE", "TLS", "TLS_CA_FILE", "TLS_VERIFY", "BINDS", "SYSTEM_TYPE", "THROTTLE_RESENDS")


@pytest.fixture(autouse=True)
def _no_smpp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NEW_FIELDS:
        monkeypatch.delenv(f"COURRIER_SMPP_{name}", raising=False)


@pytest.fixture(scope="module")
def smsc() -> Iterator[Settings]:
    with private_smsc(Settings()) as settings:
        yield settings


def context(smsc: Settings, name: str = "smpp:eu", **options: object) -> ProviderContext:
    return ProviderContext(name, {"host": "127.0.0.1", "port": smsc.smpp_port, "system_id": smsc.smpp_system_id, **options}, Settings())


def sms(message_id: str, destination: str = "+33612345678") -> Submission:
    return Submission(message_id, "COURRIER", "ALPHANUMERIC", destination, f"Code {message_id}", "GSM7")


def test_the_kind_sends_sms_over_its_own_bind() -> None:
    assert (KIND.kind, KIND.channels, KIND.settings, KIND.webhook, KIND.capability) == ("smpp", frozenset({"SMS"}), SmppSettings, None, None)
    assert kind("smpp") is KIND


def test_the_adapter_is_named_after_the_instance_and_binds_as_the_options_say(smsc: Settings) -> None:
    with SmscProxy("127.0.0.1", smsc.smpp_port) as proxy:
        provider = KIND.dispatch(context(smsc, port=proxy.port, binds=2, window=3))
        provider.open()
        try:
            results = provider.submit_many([sms(str(uuid.uuid4()), f"+336123456{i:02d}") for i in range(40)])
        finally:
            provider.close()
    assert provider.name == "smpp:eu" and all(r.accepted for r in results)
    assert proxy.connections == 2 and all(proxy.submits), "both binds carried submits"


def test_without_options_the_older_settings_are_used(monkeypatch: pytest.MonkeyPatch, smsc: Settings) -> None:
    monkeypatch.setenv("COURRIER_SMPP_PORT", str(smsc.smpp_port))
    monkeypatch.setenv("COURRIER_SMPP_WINDOW", "7")
    legacy = ProviderContext(f"smpp:127.0.0.1:{smsc.smpp_port}", {}, Settings())
    settings = SmppSettings.of({}, legacy.settings)
    assert (settings.host, settings.port, settings.window, settings.system_id) == ("127.0.0.1", smsc.smpp_port, 7, "j")
    provider = KIND.dispatch(legacy)
    provider.open()
    try:
        (result,) = provider.submit_many([sms(str(uuid.uuid4()))])
    finally:
        provider.close()
    assert result.accepted and provider.name == legacy.name


def test_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURRIER_SMPP_WINDOW", "7")
    monkeypatch.setenv("COURRIER_SMPP_TLS", "true")
    settings = SmppSettings.of({"window": 3, "binds": [{"port": 2776}, {"window": 2}]}, Settings())
    assert (settings.window, settings.tls) == (3, True)  # TLS from the environment, the window from the options
    plans = settings.bind_plans()
    assert isinstance(plans, list) and [(p.host, p.port, p.window) for p in plans] == [(None, 2776, None), (None, None, 2)]


def test_the_password_is_only_referenced_in_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inline = tmp_path / "inline.toml"
    inline.write_text('[providers.eu]\nkind = "smpp"\nhost = "smsc.example.net"\nsystem_id = "acme"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match="password_env") as refused:
        load_deployment(inline)
    assert "hunter2" not in str(refused.value)
    referenced = tmp_path / "referenced.toml"
    referenced.write_text('[providers.eu]\nkind = "smpp"\nhost = "smsc.example.net"\nsystem_id = "acme"\n'
                          'password_env = "EU_SMSC_PASSWORD"\ntls = true\n')
    monkeypatch.setenv("EU_SMSC_PASSWORD", "s3cret")
    [configured] = load_deployment(referenced).providers
    found = ProviderContext(configured.name, configured.options, Settings())
    KIND.check(found)
    assert SmppSettings.of(dict(configured.options), Settings()).password_value() == "s3cret"


def test_the_check_names_what_is_missing_never_a_secret(tmp_path: Path, smsc: Settings) -> None:
    KIND.check(context(smsc))  # on loopback the local SMSC's own password will do
    with pytest.raises(SmppConfigError, match="^COURRIER_SMPP_PASSWORD .*smsc.example.net:2775"):
        KIND.check(context(smsc, host="smsc.example.net", port=2775))
    with pytest.raises(SmppConfigError, match="^COURRIER_SMPP_SYSTEM_ID"):
        KIND.check(context(smsc, system_id=""))
    with pytest.raises(SmppConfigError, match="^COURRIER_SMPP_PASSWORD_FILE .*unreadable"):
        KIND.check(context(smsc, password_file=str(tmp_path / "absent")))
    with pytest.raises(SmppConfigError, match="^COURRIER_SMPP_TLS_CA_FILE"):
        KIND.check(context(smsc, tls=True, tls_ca_file=str(tmp_path / "absent.pem")))
    with pytest.raises(SmppConfigError, match="TLS_KEY_FILE .*without"):
        KIND.check(context(smsc, tls=True, tls_key_file=str(tmp_path / "key.pem")))
    with pytest.raises(SmppConfigError, match="option window"):
        KIND.check(context(smsc, window=0))
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    KIND.check(context(smsc, host="smsc.example.net", password_file=str(secret)))


def test_health_says_reachable_refused_unreachable_or_missing(smsc: Settings) -> None:
    assert KIND.health(context(smsc)) == "reachable"
    assert KIND.health(context(smsc, password="wrong")) == "bind refused (ESME_RINVPASWD)"
    assert KIND.health(context(smsc, port=free_port())) == "unreachable: ConnectionRefusedError"
    assert KIND.health(context(smsc, host="smsc.example.net")) == "credentials missing: COURRIER_SMPP_PASSWORD"
