"""A provider's "unsubscribed" refusal (Twilio 21610) fails the message and opts the recipient out here too."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from fastavro.validation import validate

import schemas
from processors.dispatch import logic
from processors.dispatch.provider import SubmitResult
from processors.dispatch.validity import Validity
from test_dispatch_stage import rendered  # noqa: I001 (same folder)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
VALIDITY = Validity(default_s=86_400, report_grace_s=3_600)


def marketing(group: str | None = "news") -> dict:
    event = rendered("m-1", "+14155550100")
    event["context"].update(lane="MARKETING", subscription_group=group)
    return event


def test_an_unsubscribed_refusal_writes_the_opt_out_with_its_evidence() -> None:
    refused = SubmitResult("m-1", False, [], "21610", False, "recipient_unsubscribed")
    failed, consent, history = logic.outcome(marketing(), "twilio", refused, NOW, VALIDITY)
    assert (failed.topic, failed.value["status"], failed.value["reason"]) == ("receipt", "FAILED", "recipient_unsubscribed")
    assert (consent.topic, consent.key, history.topic, history.key) == ("consent", "+14155550100|news", "consent-history", "+14155550100")
    assert consent.value == history.value
    assert (consent.value["status"], consent.value["source"]) == ("OPTED_OUT", "provider")
    assert json.loads(consent.value["evidence"]) == {"provider": "twilio", "error_code": "21610", "message_id": "m-1",
                                                     "sender_id": "COURRIER"}
    assert validate(consent.value, schemas.parsed_schema("ConsentChange"), raise_errors=True)


def test_other_refusals_and_messages_without_a_group_change_no_consent() -> None:
    unsubscribed = SubmitResult("m-1", False, [], "21610", False, "recipient_unsubscribed")
    assert [o.topic for o in logic.outcome(marketing(group=None), "twilio", unsubscribed, NOW, VALIDITY)] == ["receipt"]
    invalid = SubmitResult("m-1", False, [], "21211", False, "invalid_number")
    assert [o.topic for o in logic.outcome(marketing(), "twilio", invalid, NOW, VALIDITY)] == ["receipt"]
