"""Vonage's status words as the receipt stage maps them, its error codes naming the reason of a failure (the receipt
stage's table and the provider's agree), and how a problem's code is read."""
from __future__ import annotations

import pytest

from processors.providers.vonage.statuses import ERRORS, MESSAGE_STATUS, TRANSIENT_CODES, error_code, reason
from processors.providers.vonage.webhook import PROVIDER
from processors.receipt.statuses import HTTP_ERRORS, Normalized, normalize, protocol_of, with_error_code
from processors.receipts import TERMINAL_STATUSES

# Every status Vonage's Messages API documents for a message we sent, and what it must become.
EXPECTED = {"submitted": "SENT", "delivered": "DELIVERED", "rejected": "REJECTED", "undeliverable": "FAILED", "read": "READ"}


@pytest.mark.parametrize("word", sorted(EXPECTED))
def test_the_receipt_stage_maps_every_status_as_the_table_says(word: str) -> None:
    protocol = protocol_of(PROVIDER)
    assert normalize(word, protocol) == normalize(word.upper(), protocol) == Normalized(*MESSAGE_STATUS[word])
    assert MESSAGE_STATUS[word][0] == EXPECTED[word]


def test_the_table_is_exactly_those_statuses_and_only_outcomes_are_terminal() -> None:
    assert set(MESSAGE_STATUS) == set(EXPECTED)
    terminal = {word for word, (status, _reason) in MESSAGE_STATUS.items() if status in TERMINAL_STATUSES}
    assert terminal == {"delivered", "rejected", "undeliverable"}


@pytest.mark.parametrize(("status", "code", "expected"), [
    ("rejected", "1240", "recipient_unsubscribed"), ("rejected", "1250", "unroutable_destination"),
    ("undeliverable", "1330", "unknown_error"), ("rejected", "1999", "rejected_by_provider"), ("delivered", "1240", None),
])
def test_a_webhooks_error_code_names_the_reason_of_a_failure(status: str, code: str, expected: str | None) -> None:
    assert with_error_code(normalize(status, protocol_of(PROVIDER)), code).reason == expected


def test_the_receipt_stage_and_the_provider_give_a_code_the_same_reason() -> None:
    assert {code: HTTP_ERRORS[code] for code in ERRORS} == ERRORS
    assert (reason("1240"), reason("1170"), reason("low-balance"), reason(None)) == (
        "recipient_unsubscribed", "invalid_destination", "provider_rejected", "provider_rejected")
    assert "1000" in TRANSIENT_CODES and not TRANSIENT_CODES & set(ERRORS)


@pytest.mark.parametrize(("problem", "code"), [
    ({"type": "https://developer.vonage.com/api-errors/messages#1240", "title": "Illegal Number"}, "1240"),
    ({"type": "https://developer.nexmo.com/api-errors/#low-balance", "title": "Low balance"}, "low-balance"),
    ({"type": "https://developer.nexmo.com/api-errors/messages-olympus", "title": 1250}, "1250"),
    ({"title": "1300"}, "1300"), ({"title": True}, None), ({"title": "Unauthorized"}, None), ({}, None), (None, None),
    ("not a problem", None),
])
def test_a_problems_code_is_its_type_fragment_else_its_numeric_title(problem: object, code: str | None) -> None:
    assert error_code(problem) == code
