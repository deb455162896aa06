"""Twilio's status words as the receipt stage maps them: every MessageStatus, with the callback's ErrorCode naming the
reason; and the REST API's refusal codes."""
from __future__ import annotations

import pytest

from processors.providers.twilio.statuses import API_ERRORS, MESSAGE_STATUS, TRANSIENT_CODES, api_reason
from processors.providers.twilio.webhook import PROVIDER
from processors.receipt.statuses import Normalized, normalize, protocol_of, with_error_code
from processors.receipts import TERMINAL_STATUSES

# Every MessageStatus Twilio documents for an outbound message, and what it must become.
EXPECTED = {
    "accepted": "SENT", "scheduled": "SENT", "queued": "SENT", "sending": "SENT", "sent": "SENT", "delivered": "DELIVERED",
    "partially_delivered": "PARTIALLY_DELIVERED", "undelivered": "UNDELIVERED", "failed": "FAILED", "canceled": "FAILED",
    "read": "READ",
}


@pytest.mark.parametrize("word", sorted(EXPECTED))
def test_the_receipt_stage_maps_every_message_status_as_the_table_says(word: str) -> None:
    protocol = protocol_of(PROVIDER)
    assert normalize(word, protocol) == Normalized(*MESSAGE_STATUS[word])
    assert MESSAGE_STATUS[word][0] == EXPECTED[word]


def test_the_table_is_exactly_those_statuses_and_only_outcomes_are_terminal() -> None:
    assert set(MESSAGE_STATUS) == set(EXPECTED)
    terminal = {word for word, (status, _reason) in MESSAGE_STATUS.items() if status in TERMINAL_STATUSES}
    assert terminal == {"delivered", "partially_delivered", "undelivered", "failed", "canceled"}


@pytest.mark.parametrize(("status", "code", "reason"), [
    ("undelivered", "30003", "unreachable_handset"), ("undelivered", "30005", "unknown_handset"),
    ("failed", "30007", "filtered_by_carrier"), ("failed", "39999", "provider_failed"), ("delivered", "30003", None),
])
def test_a_callbacks_error_code_names_the_reason_of_a_failure(status: str, code: str, reason: str | None) -> None:
    assert with_error_code(normalize(status, protocol_of(PROVIDER)), code).reason == reason


def test_refusal_codes_name_their_reason() -> None:
    assert (api_reason("21211"), api_reason("21610"), api_reason("21614"), api_reason("99999"), api_reason(None)) == (
        "invalid_destination", "recipient_unsubscribed", "not_a_mobile_number", "provider_rejected", "provider_rejected")
    assert "21611" in TRANSIENT_CODES and "21610" not in TRANSIENT_CODES and set(API_ERRORS) >= {"21211", "21610"}
