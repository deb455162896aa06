"""A message posted over HTTP with an API key goes the whole way: intake → consent → channel → render → dispatch (SMPP) → receipt."""
from __future__ import annotations

from pathlib import Path

from intake_server import serve

from common.config import Settings
from courrier.outcomes import OutcomeWatcher
from courrier.processes import start_stage, stop_all

STAGES = ("consent", "channel", "render", "dispatch", "receipt")


def test_a_message_posted_over_http_is_delivered(topic_settings: Settings, tmp_path: Path) -> None:
    stages = [start_stage(name, topic_settings, tmp_path) for name in STAGES]
    try:
        watcher = OutcomeWatcher(topic_settings)
        with serve(topic_settings) as intake, intake.client() as client:
            answer = client.post("/v1/messages", json={"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "424242"},
                                                       "channel_policy": "sms", "idempotency_key": "e2e-1"})
            assert answer.status_code == 202, answer.text
            message_id = answer.json()["message_id"]
            outcomes = watcher.wait_terminal([message_id], timeout_s=120)
        watcher.close()
        terminal = outcomes.terminal(message_id)
        assert [(r["status"], r["channel"]) for r in terminal] == [("DELIVERED", "SMS")]
        assert terminal[0]["context"]["source"] == "api" and terminal[0]["context"]["idempotency_key"] == "e2e-1"
        assert terminal[0]["context"]["api_key_id"] == intake.key.key_id  # who sent it, answered from the receipt alone
        assert outcomes.dead_letters == []
    finally:
        stop_all(stages)
    assert all(s.process.returncode == 0 for s in stages), [s.log_path.read_text()[-2000:] for s in stages if s.process.returncode]
