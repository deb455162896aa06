"""A test send goes the whole way (intake → consent → channel → render → dispatch (SMPP) → receipt) to a number of the
test list without any opt-in, and every receipt of it says test."""
from __future__ import annotations

from pathlib import Path

from intake_server import create_key, serve

from common.config import Settings
from courrier.outcomes import OutcomeWatcher
from courrier.processes import start_stage, stop_all

STAGES = ("consent", "channel", "render", "dispatch", "receipt")
TEAM = "+33612345670"


def test_a_test_send_is_delivered_and_marked_test_in_every_receipt(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings.model_copy(update={"test_numbers": TEAM})
    stages = [start_stage(name, settings, tmp_path) for name in STAGES]
    try:
        watcher = OutcomeWatcher(settings)
        key = create_key(settings, ("templates:write",), name="studio")
        with serve(settings) as intake, intake.client(key.key) as client:
            # promo_spring is a marketing template: no opt-in exists for TEAM, and none is needed for a test send.
            answer = client.post("/v1/test-sends", json={"template_id": "promo_spring", "to": [TEAM], "channel_policy": "sms",
                                                          "variables": {"first_name": "Ava", "discount": "10"}})
            assert answer.status_code == 202, answer.text
            message_id = answer.json()["messages"][0]["message_id"]
            outcomes = watcher.wait_terminal([message_id], timeout_s=120)
        watcher.close()
        terminal = outcomes.terminal(message_id)
        assert [(r["status"], r["channel"]) for r in terminal] == [("DELIVERED", "SMS")]
        every = outcomes.receipts[message_id]
        assert [r["status"] for r in every] == ["SENT", "DELIVERED"]
        assert all(r["context"]["test"] is True and r["context"]["source"] == "test-send" for r in every)
        assert outcomes.dead_letters == []
    finally:
        stop_all(stages)
