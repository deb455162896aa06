"""POST /v1/consent over HTTP with the real broker: scope, all-or-nothing batches, the changes and their evidence on the topics."""
from __future__ import annotations

import time

from common.config import Settings
from intake_server import Served, create_key, read_topic

OPT_IN = {"number": "+33612345678", "subscription_group": "promotions", "status": "opted_in", "source": "form",
          "changed_at": "2026-03-01T09:00:00+01:00", "text_shown": "Yes, send me offers by SMS", "ip_address": "203.0.113.7"}
OPT_OUT = {"number": "0612345679", "default_region": "FR", "subscription_group": "promotions", "status": "opted_out",
           "source": "call", "changed_at": "2026-03-02T10:00:00Z"}


def test_a_key_without_consent_write_is_refused(served: Served) -> None:
    with served.client() as client:  # the intake's own key holds messages:send only
        answer = client.post("/v1/consent", json={"changes": [OPT_IN]})
    assert answer.status_code == 403 and "consent:write" in answer.text


def test_a_batch_is_recorded_with_its_evidence_or_refused_whole(served: Served, intake_topics: Settings) -> None:
    key = create_key(intake_topics, ("consent:write",), name="crm")
    bad = {**OPT_OUT, "number": "12"}
    no_proof = {**OPT_IN, "ip_address": None}
    with served.client(key.key) as client:
        refused = client.post("/v1/consent", json={"changes": [OPT_IN, bad, no_proof]})
        deadline = time.monotonic() + 20
        while refused.status_code == 401 and time.monotonic() < deadline:  # the key table has not read the new key yet
            time.sleep(0.05)
            refused = client.post("/v1/consent", json={"changes": [OPT_IN, bad, no_proof]})
        future = client.post("/v1/consent", json={"changes": [{**OPT_OUT, "changed_at": "2099-01-01T00:00:00Z"}]})
        answer = client.post("/v1/consent", json={"changes": [OPT_IN, OPT_OUT]})
    assert refused.status_code == 422, refused.text
    fields = {e.get("field") for e in refused.json()["errors"]}
    assert "changes.1.number" in fields and "changes.2" in fields
    assert future.status_code == 422 and future.json()["errors"][0]["code"] == "changed_at_in_future"
    assert answer.status_code == 202 and answer.json() == {"recorded": 2}
    history = read_topic(intake_topics, "consent-history", 2, settle_s=2)
    assert sorted(k for k, _ in history) == ["+33612345678", "+33612345679"]  # the refused batches wrote nothing
    opt_in = next(v for k, v in history if k == "+33612345678")
    assert (opt_in["status"], opt_in["source"], opt_in["text_shown"], opt_in["ip_address"]) == (
        "OPTED_IN", "form", "Yes, send me offers by SMS", "203.0.113.7")
    assert opt_in["recorded_by"] == f"api-key:{key.key_id}" and opt_in["changed_at"].isoformat() == "2026-03-01T08:00:00+00:00"
    consent = dict(read_topic(intake_topics, "consent", 2))
    assert consent["+33612345679|promotions"]["status"] == "OPTED_OUT"
