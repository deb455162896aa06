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


def tap(http_report, button: int, seconds: int) -> dict:
    body = {"suggestionResponse": {"postbackData": postback_data("0b7c54d4-33a2-5b61-9c4f-0a5e8e7f1d2c", button)}, "at": seconds}
    return http_report("CLICKED", provider_message_id="m-1", raw=json.dumps(body))


def test_each_button_gets_its_click_once_and_the_state_remembers_which(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event(channel="RCS", provider="http:sim", provider_message_ids=["m-1"], fallback_reason=None))
    feeder.feed("provider-events", http_report("DELIVERED", provider_message_id="m-1"))
    reasons = []
    for button, seconds in ((1, 10), (1, 20), (0, 30), (1, 40)):
        reasons += [r["reason"] for r in feeder.receipts_of(feeder.feed("provider-events", tap(http_report, button, seconds)))]
    assert reasons == ["button:1", "button:0"]  # a second tap on a button is a repeat: nothing new about the message
    assert feeder.written[-1]["clicked_buttons"] == ["button:1", "button:0"] and feeder.written[-1]["engaged"] == ["CLICKED"]


def test_a_first_tap_before_any_report_implies_delivery_once(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event(channel="RCS", provider="http:sim", provider_message_ids=["m-1"], fallback_reason=None))
    first = [r["status"] for r in feeder.receipts_of(feeder.feed("provider-events", tap(http_report, 0, 1)))]
    second = [r["status"] for r in feeder.receipts_of(feeder.feed("provider-events", tap(http_report, 2, 2)))]
    assert (first, second) == (["DELIVERED", "CLICKED"], ["CLICKED"])
