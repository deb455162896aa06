"""The deployment tables of the configuration file: providers with referenced credentials, routes, reference data,
and errors that name the file, the key and what is expected."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Settings
from common.secret_settings import ConfigError
from processors.providers.deployment import current, legacy_providers, load_deployment

TWILIO = '''
[providers.twilio-eu]
kind = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token_env = "TEST_TWILIO_TOKEN"
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "courrier.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_providers_routes_and_reference_data_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TWILIO_TOKEN", "s3cret")
    deployment = load_deployment(write(tmp_path, TWILIO + '''
[providers.sim]
kind = "sim"

[[routes]]
countries = ["FR"]
channels = ["SMS"]
providers = ["twilio-eu", "sim"]

[[routes]]
providers = ["sim"]

[footers]
default = "STOP au 36180"
'''))
    twilio = deployment.provider("twilio-eu")
    assert twilio is not None and twilio.name == "twilio:twilio-eu" and twilio.channels == frozenset({"SMS", "MMS"})
    assert twilio.options["auth_token"].get_secret_value() == "s3cret", "the reference is resolved, as a secret"
    assert "s3cret" not in repr(twilio), "a resolved credential never shows in a repr (nor in a log line)"
    assert deployment.candidates("SMS", "FR", "MARKETING") == ("twilio:twilio-eu", "sim")
    assert deployment.candidates("SMS", "SE", "MARKETING") == ("sim",)
    assert deployment.candidates("RCS", "FR", "MARKETING") == ("sim",), "a route not covering the channel does not match"
    assert deployment.footers == {"default": "STOP au 36180"} and deployment.senders is None


@pytest.mark.parametrize(("text", "expected"), [
    ('[providers.x]\nkind = "carrier-pigeon"\n', "providers.x.kind: no provider kind 'carrier-pigeon'"),
    ('[providers.x]\naccount_sid = "AC1"\n', "providers.x: kind is missing"),
    (TWILIO.replace('auth_token_env = "TEST_TWILIO_TOKEN"', 'auth_token = "inline"'), "providers.twilio-eu.auth_token: a secret is never written"),
    (TWILIO.replace("account_sid", "acount_sid"), "providers.twilio-eu.acount_sid: unknown option (did you mean account_sid?)"),
    (TWILIO.replace("TEST_TWILIO_TOKEN", "UNSET_VARIABLE_FOR_TEST"), "the environment variable UNSET_VARIABLE_FOR_TEST is not set"),
    (TWILIO + '\n[[routes]]\nproviders = ["nobody"]\n', "routes[0].providers: no provider named 'nobody'"),
    (TWILIO + '\n[[routes]]\ncountries = ["France"]\nproviders = ["twilio-eu"]\n', "'FRANCE' is not an ISO 3166-1 alpha-2 code"),
    (TWILIO + '\n[providers.y]\nkind = "twilio"\nchannels = ["RCS"]\n', "providers.y.channels = ['RCS']: expected a non-empty subset"),
    ("routes = 3\n", "routes: expected an array of tables"),
])
def test_a_bad_table_is_one_line_naming_the_file_and_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                                            expected: str) -> None:
    monkeypatch.setenv("TEST_TWILIO_TOKEN", "s3cret")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_deployment(path)
    assert str(error.value).startswith(str(path)) and expected in str(error.value)
    assert "s3cret" not in str(error.value) and "inline" not in str(error.value)


def test_without_providers_the_older_settings_decide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(dispatch_providers="smpp,http", smpp_failover="127.0.0.1:2776")
    assert list(legacy_providers(settings)) == ["smpp:127.0.0.1:2775", "smpp:127.0.0.1:2776", "http:sim"]
    monkeypatch.setenv("COURRIER_CONFIG", str(tmp_path / "absent.toml"))
    deployment = current(settings)
    assert not deployment.declared
    assert deployment.candidates("SMS", "FR", "TRANSACTIONAL") == ("smpp:127.0.0.1:2775", "smpp:127.0.0.1:2776", "http:sim")
    assert deployment.candidates("RCS", "FR", "TRANSACTIONAL") == ("http:sim",)


def test_the_settings_file_and_the_deployment_tables_share_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TWILIO_TOKEN", "s3cret")
    path = write(tmp_path, "smpp_window = 7\n" + TWILIO)
    from common.config import load_settings

    assert load_settings(path).smpp_window == 7, "the provider tables do not trip the settings' unknown-key check"
    assert load_deployment(path).declared
