"""Courrier's RCS shapes as RBM agent messages: text, standalone card, carousel, media, every suggestion kind, the
postback data that names the message and the button (read back for any id and button), expireTime, refusals."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.providers.rbm.content import BadRcsContent, agent_message, content_message, postback, read_postback

MESSAGE = str(uuid.uuid4())


def test_no_rcs_content_is_the_text_and_a_text_keeps_its_suggestions() -> None:
    assert content_message(None, "Your code is 1") == {"text": "Your code is 1"}
    text = json.dumps({"text": "Hi", "suggestions": [{"type": "reply", "text": "Yes"}]})
    assert content_message(text, "x") == {"text": "Hi", "suggestions": [{"reply": {"text": "Yes", "postbackData": "Yes"}}]}
    assert content_message(text, "x", postback(MESSAGE))["suggestions"][0]["reply"]["postbackData"] == f"courrier:{MESSAGE}/0"


def test_a_card_is_standalone_with_its_media_and_buttons_and_a_carousel_keeps_message_suggestions() -> None:
    card = {"title": "T", "description": "D", "media_url": "https://cdn.example/a.png",
            "suggestions": [{"type": "open_url", "text": "Open", "url": "https://x.example"}, {"type": "dial", "text": "Call", "phone_number": "+331"}]}
    standalone = content_message(json.dumps(card), "x")["richCard"]["standaloneCard"]
    assert standalone["cardOrientation"] == "VERTICAL"
    assert standalone["cardContent"]["media"]["contentInfo"] == {"fileUrl": "https://cdn.example/a.png"}
    assert [list(s["action"])[-1] for s in standalone["cardContent"]["suggestions"]] == ["openUrlAction", "dialAction"]
    carousel = content_message(json.dumps({"carousel": [card, {"title": "U"}], "suggestions": [{"type": "reply", "text": "More"}]}), "x",
                               postback(MESSAGE))
    assert carousel["richCard"]["carouselCard"]["cardWidth"] == "MEDIUM" and len(carousel["richCard"]["carouselCard"]["cardContents"]) == 2
    assert read_postback(carousel["suggestions"][0]["reply"]["postbackData"]) == (MESSAGE, 2)  # numbered after the cards' buttons


@pytest.mark.parametrize("rcs", ["not json", "[1]", '{"suggestions": [{"type": "reply", "text": "x"}]}',
                                 '{"text": "x", "suggestions": [{"type": "teleport", "text": "x"}]}', '{"carousel": "no"}'])
def test_content_that_is_not_one_of_renders_shapes_is_refused(rcs: str) -> None:
    with pytest.raises(BadRcsContent):
        content_message(rcs, "x")


def test_the_agent_message_carries_expire_time_in_utc_milliseconds() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert agent_message(None, "x", at) == {"contentMessage": {"text": "x"}, "expireTime": "2030-01-02T01:04:05.678Z"}
    assert agent_message(None, "x", None) == {"contentMessage": {"text": "x"}}


@given(st.uuids(), st.integers(min_value=0, max_value=999), st.text(max_size=25))
def test_postback_data_reads_back_for_any_message_and_button(message: uuid.UUID, button: int, text: str) -> None:
    data = postback(str(message))(button, text)
    assert read_postback(data) == (str(message), button) and len(data) <= 2048


@given(st.text(max_size=100))
def test_postback_data_we_did_not_write_is_not_read(data: str) -> None:
    assert read_postback(data) is None or data.startswith("courrier:")
