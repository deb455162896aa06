"""RBM as a provider kind (``plugin.KIND``) and its settings: each part built from a context under the configured name,
``check`` and ``health`` naming what is missing or refused without showing a secret, tokens renewed before expiry."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.config import Settings
from processors.providers.rbm.auth import HttpxRequest, TokenRefused, TokenSource, TokenUnavailable
from processors.providers.rbm.capability import CapabilityClient
from processors.providers.rbm.fake import FakeRbm, new_service_account
from processors.providers.rbm.plugin import KIND
from processors.providers.rbm.settings import RbmConfigError, RbmSettings
from processors.providers.registry import ProviderContext
from tests.processors.providers.rbm.conftest import AGENT, CLIENT_TOKEN


def context(fake: FakeRbm, key_file: Path, **options: Any) -> ProviderContext:
    values = {"agent_id": AGENT, "service_account_file": key_file, "api_url": fake.url, "client_token": CLIENT_TOKEN, **options}
    return ProviderContext("rbm-fr", values, Settings())


def test_the_kind_builds_each_part_under_the_configured_name(fake: FakeRbm, key_file: Path) -> None:
    built = context(fake, key_file)
    assert KIND.kind == "rbm" and KIND.channels == {"RCS"} and KIND.settings is RbmSettings
    provider = KIND.dispatch(built)
    assert provider.name == "rbm-fr"
    assert KIND.webhook is not None and KIND.webhook(built).name == "rbm-fr"
    assert KIND.capability is not None
    lookup = KIND.capability(built)
    assert isinstance(lookup, CapabilityClient) and lookup("+33612345678") is True
    lookup.close()
    KIND.check(built)
    assert KIND.health is not None and KIND.health(built) == "reachable"


@pytest.mark.parametrize(("options", "named"), [
    ({"agent_id": ""}, "COURRIER_RBM_AGENT_ID"),
    ({"service_account_file": None}, "COURRIER_RBM_SERVICE_ACCOUNT_FILE"),
    ({"service_account_file": "/nonexistent/key.json"}, "COURRIER_RBM_SERVICE_ACCOUNT_FILE"),
    ({"client_token": ""}, "COURRIER_RBM_CLIENT_TOKEN"),
    ({"client_token_file": "/nonexistent/token"}, "COURRIER_RBM_CLIENT_TOKEN_FILE"),
    ({"agnet_id": "typo"}, "agnet_id"),
])
def test_check_names_the_first_missing_or_unreadable_setting(fake: FakeRbm, key_file: Path, options: dict, named: str) -> None:
    with pytest.raises(RbmConfigError, match=named) as missing:
        KIND.check(context(fake, key_file, **options))
    assert CLIENT_TOKEN not in str(missing.value) and "PRIVATE KEY" not in str(missing.value)


@pytest.mark.parametrize(("content", "why"), [("{not json", "is not JSON"), ('{"client_email": "a@b"}', "no private_key, token_uri")])
def test_a_key_file_that_is_not_a_service_account_key_is_named(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(RbmConfigError, match=why):
        RbmSettings(agent_id=AGENT, service_account_file=path).service_account()


def test_the_client_token_file_wins_and_env_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-the-file\n")
    monkeypatch.setenv("COURRIER_RBM_CLIENT_TOKEN", "from-env")
    monkeypatch.setenv("COURRIER_RBM_AGENT_ID", "agent-from-env")
    assert RbmSettings.of().webhook_token() == "from-env" and RbmSettings.of().agent() == "agent-from-env"
    assert RbmSettings.of(client_token_file=token_file).webhook_token() == "from-the-file"


def test_health_says_what_is_wrong(fake: FakeRbm, key_file: Path, tmp_path: Path) -> None:
    assert KIND.health is not None
    assert KIND.health(context(fake, key_file, service_account_file=None)).startswith("credentials missing: COURRIER_RBM_")
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps(new_service_account(fake.token_uri)))
    assert KIND.health(context(fake, stranger)).startswith("credentials refused")
    down = tmp_path / "down.json"
    down.write_text(json.dumps({**fake.account, "token_uri": "http://127.0.0.1:9/token"}))
    assert KIND.health(context(fake, down)).startswith("unreachable")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1)

    def __call__(self) -> datetime:
        return self.now


def test_a_token_is_kept_until_the_margin_before_its_expiry_then_renewed(fake: FakeRbm) -> None:
    clock = Clock()
    with httpx.Client() as client:
        tokens = TokenSource(fake.account, HttpxRequest(client, 2.0), margin_s=300, clock=clock)
        first = tokens.header()
        expiry = tokens._credentials.expiry
        clock.now = expiry - timedelta(seconds=301)
        assert tokens.header() == first and fake.tokens_issued == 1
        clock.now = expiry - timedelta(seconds=299)
        assert tokens.header() != first and fake.tokens_issued == 2 and tokens.refreshes == 2


def test_a_failed_refresh_is_not_tried_again_within_the_cooldown(fake: FakeRbm) -> None:
    with httpx.Client() as client:
        tokens = TokenSource(fake.account, HttpxRequest(client, 2.0), cooldown_s=60)
        fake.fail_next("400", route="token")
        for _ in range(3):
            with pytest.raises(TokenRefused):
                tokens.header()
        assert fake.tokens_issued == 0
        later = TokenSource(fake.account, HttpxRequest(client, 2.0), cooldown_s=0)
        assert later.header().startswith("Bearer ya29.fake-")


def test_a_token_endpoint_that_does_not_answer_is_unavailable() -> None:
    with httpx.Client() as client:
        tokens = TokenSource({**new_service_account("http://127.0.0.1:9/token")}, HttpxRequest(client, 0.5))
        with pytest.raises(TokenUnavailable):
            tokens.header()
