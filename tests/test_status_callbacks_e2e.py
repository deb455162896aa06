"""Message status and status callbacks through the whole chain, each stage its own process, on the real parts.

A message sent over HTTP with a ``status_callback`` on 127.0.0.1 (allow-listed, as only a test may) has every one of
its receipts POSTed there, signed with its API key's callback secret, once per receipt id; ``GET /v1/messages/{id}``
then shows its outcome, cost and history. A receiver answering 500 gets its tries until the retry window (seconds
here, 24 h by default) ends, then one ``callback-failed`` record per receipt.
"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from common.config import Settings
from courrier.processes import PIPELINE, start_stage, stop_all
from processors.access.keys import new_key
from processors.access.store import KEYS_TOPIC
from processors.runtime.publisher import write_now
from processors.callbacks.signing import verify
from processors.runtime.stage import Output

sys.path += [str(Path(__file__).parent / "processors" / "intake"), str(Path(__file__).parent / "processors" / "callbacks")]
from intake_server import read_topic, serve  # noqa: E402
from receiver import Receiver  # noqa: E402

SECRET = "whsec_e2e-secret"
OTP = {"template_id": "otp", "variables": {"code": "482913"}, "channel_policy": "sms", "campaign_id": "e2e-spring"}


def test_callbacks_and_status_of_messages_sent_over_http(topic_settings: Settings, tmp_path: Path, monkeypatch) -> None:
    settings = topic_settings.model_copy(update={"quiet_hours_enabled": False})
    key = new_key("callbacks-e2e", ("messages:send", "messages:read", "reports:read"), datetime.now(timezone.utc))
    write_now(settings, [Output(KEYS_TOPIC, key.key_id, {**key.record, "callback_secret": SECRET})])
    with Receiver() as good, Receiver(status=500) as bad:
        allow = f"{good.host},{bad.host}"
        monkeypatch.setenv("COURRIER_CALLBACK_ALLOW_HOSTS", allow)  # the intake's check, in this process
        callbacks_env = {"COURRIER_CALLBACK_ALLOW_HOSTS": allow, "COURRIER_CALLBACK_RETRY_FOR_S": "6",
                         "COURRIER_CALLBACK_BASE_DELAY_S": "0.5", "COURRIER_CALLBACK_MAX_DELAY_S": "2"}
        stages = [start_stage(name, settings, tmp_path, extra_env=callbacks_env if name == "callbacks" else None) for name in PIPELINE]
        try:
            with serve(settings) as served, served.client(key.key) as http:
                sent = http.post("/v1/messages", json={**OTP, "recipient": "+33612345611", "status_callback": good.url})
                refused = http.post("/v1/messages", json={**OTP, "recipient": "+33612345612", "status_callback": bad.url})
                assert (sent.status_code, refused.status_code) == (202, 202), (sent.text, refused.text)
                message_id, failing_id = sent.json()["message_id"], refused.json()["message_id"]
                deadline = time.monotonic() + 120
                while not any(json.loads(r.body)["terminal"] for r in good.received) and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(2)  # long enough for a second POST of any receipt to show
                receipts = [r for _, r in read_topic(settings, "receipt", 4, timeout_s=30)]
                mine = {r["receipt_id"]: r for r in receipts if r["context"]["message_id"] == message_id}
                ids = [r.headers["courrier-receipt-id"] for r in good.received]
                assert sorted(ids) == sorted(mine) and len(ids) == len(set(ids)) >= 2  # every receipt, once each
                for request in good.received:
                    verify(SECRET, request.headers["courrier-signature"], request.body, time.time())
                    assert json.loads(request.body)["status"] == mine[request.headers["courrier-receipt-id"]]["status"].lower()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    status = http.get(f"/v1/messages/{message_id}")
                    if status.status_code == 200 and status.json()["terminal"]:
                        break
                    time.sleep(0.2)
                body = status.json()
                assert (body["status"], body["channel"], body["currency"]) == ("delivered", "sms", "EUR"), body
                assert body["cost_micros"] == sum(r["cost_micros"] for r in mine.values() if r["status"] == "SENT") > 0
                assert sorted(h["receipt_id"] for h in body["history"]) == sorted(mine)
                assert all(r["cost_micros"] and r["currency"] == "EUR" for r in receipts if r["status"] in ("SENT", "DELIVERED"))
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    campaign = http.get("/v1/campaigns/e2e-spring").json()
                    if campaign.get("statuses") == {"delivered": 2}:
                        break
                    time.sleep(0.2)
                billed = sum(r["cost_micros"] for r in receipts if r["status"] == "SENT")
                assert (campaign["messages"], campaign["statuses"], campaign["cost_micros"]) == (2, {"delivered": 2}, billed), campaign
                failing = [r["receipt_id"] for r in receipts if r["context"]["message_id"] == failing_id]
                failed = [v for _, v in read_topic(settings, "callback-failed", len(failing), timeout_s=60)]
                assert sorted(f["receipt_id"] for f in failed) == sorted(failing)
                assert all(f["attempt"] >= 3 and f["last_error"] == "HTTP 500" for f in failed)
                assert len(bad.received) == sum(f["attempt"] for f in failed)
        finally:
            stop_all(stages)
    assert all(s.process.returncode == 0 for s in stages), [s.log_path.read_text()[-2000:] for s in stages if s.process.returncode]
