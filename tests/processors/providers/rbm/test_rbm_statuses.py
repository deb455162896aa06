"""RBM's event words as the receipt stage maps them (every word of the status table, read-receipts apart), which of
them end a message, and the reasons of the API's refusals."""
from __future__ import annotations

import pytest

from processors.providers.rbm.statuses import API_ERRORS, EVENT_STATUS, api_reason
from processors.receipt.statuses import Normalized, normalize, protocol_of
from processors.receipts import TERMINAL_STATUSES

EXPECTED = {"DELIVERED": "DELIVERED", "READ": "READ", "TTL_EXPIRATION_REVOKED": "EXPIRED", "TTL_EXPIRATION_REVOKE_FAILED": "SENT",
            "CLICKED": "CLICKED"}


@pytest.mark.parametrize("word", sorted(EXPECTED))
def test_the_receipt_stage_maps_every_event_word_as_the_table_says(word: str) -> None:
    assert protocol_of("rbm-fr") == "http"
    assert normalize(word, "http") == Normalized(*EVENT_STATUS[word]) and EVENT_STATUS[word][0] == EXPECTED[word]


def test_only_delivery_and_expiry_end_a_message() -> None:
    assert set(EVENT_STATUS) == set(EXPECTED)
    assert {word for word, (status, _reason) in EVENT_STATUS.items() if status in TERMINAL_STATUSES} == {"DELIVERED", "TTL_EXPIRATION_REVOKED"}


def test_api_refusals_name_their_reason() -> None:
    assert api_reason("NOT_FOUND") == "rcs_not_capable" and api_reason("INVALID_ARGUMENT") == "invalid_request"
    assert api_reason("SOMETHING_NEW") == api_reason(None) == "provider_rejected" and "ALREADY_EXISTS" not in API_ERRORS
