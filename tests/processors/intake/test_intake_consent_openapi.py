"""POST /v1/consent without a broker: its OpenAPI body resolves, and refusals come before anything is written."""
from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from common.config import Settings
from processors.intake.api import create_app
from processors.intake.consent_api import MAX_CHANGES


def test_the_declared_body_has_every_field_and_no_dangling_reference() -> None:
    spec = create_app(Settings(), insecure_no_auth=True).openapi()
    operation = spec["paths"]["/v1/consent"]["post"]
    text = json.dumps(spec)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = spec
        for part in ref.split("/"):
            node = node[part]  # a KeyError names a reference that points nowhere
    record = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]["changes"]["items"]
    assert {"number", "subscription_group", "status", "source", "changed_at", "text_shown", "ip_address",
            "inbound_message_id", "evidence"} <= set(record["properties"])
    assert {"202", "400", "413", "422", "503"} <= set(operation["responses"])


def test_refusals_name_the_item_and_need_no_broker() -> None:
    client = TestClient(create_app(Settings(), insecure_no_auth=True))  # no lifespan: nothing reaches Kafka
    empty = client.post("/v1/consent", json={"changes": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "changes"
    too_many = client.post("/v1/consent", json={"changes": [{}] * (MAX_CHANGES + 1)})
    assert too_many.status_code == 422
    opt_in = {"number": "+33612345678", "subscription_group": "promotions", "status": "opted_in", "source": "form",
              "changed_at": "2026-03-01T09:00:00Z"}
    answer = client.post("/v1/consent", json={"changes": [opt_in]})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "changes.0"
    assert "text_shown" in answer.json()["errors"][0]["message"]
