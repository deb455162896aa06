"""No built-in webhook secret (issue 18, item 9): the receiver does not start without one, and what the old built-in
one signs is refused — a forged STOP cannot opt a number out."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from webhook_helpers import SECRET, RecordingPublisher, body_of, signed, sim_event

from common.config import Settings, SecretMissing
from common.secret_settings import ensure_local_webhook_secret
from courrier.processes import start_webhooks
from processors.webhooks.api import WebhookSecretMissing, create_app
from processors.web.webhook_settings import WebhookSettings

OLD_BUILT_IN_SECRET = "courrier-dev-webhook-secret"


def _without_secrets(tmp_path: Path) -> dict[str, str]:
    """The environment with no webhook secret anywhere: none set, and a state directory with nothing generated."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("COURRIER_WEBHOOK_SECRET")}
    return {**env, "COURRIER_STATE_DIR": str(tmp_path / "state"), "COURRIER_CONFIG": str(tmp_path / "none.toml")}


def test_webhooks_serve_without_a_secret_exits_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "courrier.entry", "webhooks", "serve", "--port", "0"], capture_output=True,
                          text=True, timeout=60, env=_without_secrets(tmp_path), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("courrier: COURRIER_WEBHOOK_SECRET is not set: ") and done.stderr.count("\n") == 1
    assert "COURRIER_WEBHOOK_SECRET_FILE" in done.stderr and "Traceback" not in done.stderr


def test_the_simulator_does_not_start_without_a_secret_unless_it_posts_no_webhooks(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sim", "--port", "1"], capture_output=True, text=True, timeout=60,
                          env=_without_secrets(tmp_path), cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("python -m sim: COURRIER_WEBHOOK_SECRET is not set: ")


def test_start_webhooks_refuses_in_the_caller_rather_than_in_a_child_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COURRIER_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SecretMissing, match="^COURRIER_WEBHOOK_SECRET is not set"):
        start_webhooks(Settings(state_dir=tmp_path), tmp_path)
    with pytest.raises(WebhookSecretMissing, match="^COURRIER_WEBHOOK_SECRET is not set"):
        create_app(Settings(state_dir=tmp_path), publisher=RecordingPublisher())


@pytest.fixture
def receiver() -> Iterator[tuple[TestClient, RecordingPublisher]]:
    publisher = RecordingPublisher()
    app = create_app(Settings(webhook_secret=SecretStr(SECRET)), WebhookSettings(replay_capacity=100), publisher)
    with TestClient(app) as client:
        yield client, publisher


def test_a_stop_signed_with_the_old_built_in_secret_is_refused(receiver: tuple[TestClient, RecordingPublisher]) -> None:
    client, publisher = receiver
    forged = body_of(sim_event("inbound"))
    answer = client.post("/webhooks/sim", content=forged, headers=signed(forged, secret=OLD_BUILT_IN_SECRET))
    # 403 bad_signature is the receiver's documented answer to a wrong signature (README, "Provider webhooks").
    assert (answer.status_code, answer.json()["errors"][0]["code"]) == (403, "bad_signature")
    assert publisher.published == []  # nothing reaches inbound: no opt-out
    genuine = body_of(sim_event("inbound"))
    assert client.post("/webhooks/sim", content=genuine, headers=signed(genuine)).status_code == 200
    assert [output.topic for output in publisher.published] == ["inbound"]


def test_infra_s_generated_secret_is_what_an_unset_receiver_and_the_simulator_use(monkeypatch: pytest.MonkeyPatch,
                                                                                    tmp_path: Path) -> None:
    from infra.parts.sim import webhook_secret

    monkeypatch.delenv("COURRIER_WEBHOOK_SECRET", raising=False)
    assert Settings(state_dir=tmp_path).webhook_secret is None
    generated = webhook_secret(Settings(state_dir=tmp_path))  # what `infra up` launches the simulator with
    path = tmp_path / "secrets" / "webhook-secret"
    assert path.stat().st_mode & 0o777 == 0o600 and len(generated) >= 40 and generated != OLD_BUILT_IN_SECRET
    assert Settings(state_dir=tmp_path).secret("webhook_secret") == generated  # the receiver, unset, reads the same one
    assert ensure_local_webhook_secret(tmp_path) == generated  # generated once, then kept
    assert webhook_secret(Settings(state_dir=tmp_path, webhook_secret="set-explicitly")) == "set-explicitly"  # a setting wins
