"""A click report naming its button (an RCS suggestion's ``button:<n>``) gives a CLICKED receipt whose reason names it."""
from __future__ import annotations

import json

import pytest
from receipt_feeder import Feeder

from processors.rules.buttons import button_in, postback_data, read_postback


TAP = {"suggestionResponse": {"postbackData": postback_data("0b7c54d4-33a2-5b61-9c4f-0a5e8e7f1d2c", 2), "text": "Track"}}


@pytest.mark.parametrize(("raw", "button"), [(json.dumps(TAP), "button:2"), ("{}", None)])
def test_a_click_names_its_button(feeder: Feeder, dispatched_event, http_report, raw: str, button: str | None) -> None:
    feeder.feed("dispatched", dispatched_event(channel="RCS", provider="http:sim", provider_message_ids=["m-1"], fallback_reason=None))
    feeder.feed("provider-events", http_report("DELIVERED", provider_message_id="m-1"))
    [click] = feeder.receipts_of(feeder.feed("provider-events", http_report("CLICKED", provider_message_id="m-1", raw=raw)))
    assert (click["status"], click["reason"], click["terminal"]) == ("CLICKED", button, False)


def test_postback_data_round_trip() -> None:
    data = postback_data("0b7c54d4-33a2-5b61-9c4f-0a5e8e7f1d2c", 7)
    assert read_postback(data) == ("0b7c54d4-33a2-5b61-9c4f-0a5e8e7f1d2c", 7) and read_postback("Track") is None
    assert button_in(f'{{"postbackData": "{data}"}}') == "button:7" and button_in(None) is None
