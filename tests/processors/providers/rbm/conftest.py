"""Fixtures of the RBM tests: a fake RBM on loopback, its throwaway service-account key in a file, settings for it,
and an adapter opened against it. No ``COURRIER_RBM_*`` variable of the machine leaks in."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from processors.providers.rbm.adapter import RbmProvider
from processors.providers.rbm.fake import FakeRbm, running
from processors.providers.rbm.settings import RbmSettings

AGENT = "courrier-agent"
CLIENT_TOKEN = "fake-client-token-0123456789"


@pytest.fixture(autouse=True)
def _no_rbm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("COURRIER_RBM_") and n != "COURRIER_RBM_URL"]:
        monkeypatch.delenv(name)


@pytest.fixture
def fake() -> Iterator[FakeRbm]:
    with running(FakeRbm(AGENT)) as started:
        yield started


@pytest.fixture
def key_file(fake: FakeRbm, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(fake.account))
    return path


@pytest.fixture
def settings_for(fake: FakeRbm, key_file: Path) -> Callable[..., RbmSettings]:
    def make(**overrides: Any) -> RbmSettings:
        values: dict[str, Any] = {"agent_id": AGENT, "service_account_file": key_file, "api_url": fake.url,
                                  "client_token": CLIENT_TOKEN, "request_timeout_s": 1.0, "throttle_retries": 2, **overrides}
        return RbmSettings(**values)
    return make


@pytest.fixture
def provider(settings_for: Callable[..., RbmSettings]) -> Iterator[RbmProvider]:
    opened = RbmProvider(settings_for())
    opened.open()
    yield opened
    opened.close()
