"""Parsing the SMPP delivery receipt text: the standard form, the usual variations, and refusals."""
from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings, strategies as st

from processors.providers.smpp.receipt import SmppReceipt, parse_smpp_receipt


def test_standard_form() -> None:
    text = "id:0123456789 sub:001 dlvrd:001 submit date:2603020903 done date:2603020904 stat:DELIVRD err:000 text:Your code is 1234"
    assert parse_smpp_receipt(text) == SmppReceipt(
        id="0123456789", sub=1, dlvrd=1, submit_date=datetime(2026, 3, 2, 9, 3), done_date=datetime(2026, 3, 2, 9, 4),
        stat="DELIVRD", err="000", text="Your code is 1234")


@pytest.mark.parametrize(("text", "field", "value"), [
    ("id:a1b2c3d4e5f6a7b8 sub:1 dlvrd:0 submit date:2603020903 done date:260302090415 stat:undeliv err:0B Text:x", "stat", "UNDELIV"),
    ("id:a1b2c3d4e5f6a7b8 sub:1 dlvrd:0 submit date:2603020903 done date:260302090415 stat:undeliv err:0B Text:x", "done_date",
     datetime(2026, 3, 2, 9, 4, 15)),
    ("id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000", "text", ""),
    ("id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000 text:", "text", ""),
    ("  id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000 text:a\nb  ", "text", "a\nb"),
    # the text field is free: receipt-looking words inside it are text
    ("id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000 text:stat:UNDELIV id:9", "stat", "DELIVRD"),
    ("id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000 text:stat:UNDELIV id:9", "text",
     "stat:UNDELIV id:9"),
])
def test_variations(text: str, field: str, value: object) -> None:
    assert getattr(parse_smpp_receipt(text), field) == value


@pytest.mark.parametrize("text", [
    "",
    "Hello World",                                                                            # a mobile-originated message
    "id:7 sub:001 dlvrd:001 submit date:2603020903 stat:DELIVRD err:000 text:",             # no done date
    "id:7 sub:001 dlvrd:001 submit date:2613020903 done date:2603020903 stat:DELIVRD err:000",  # month 13
    "id:7 sub:001 dlvrd:001 submit date:26030209 done date:2603020903 stat:DELIVRD err:000",  # short date
    "id:7 sub:0001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000",  # four-digit count
    "id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVERED err:000",  # stat too long
    "x id:7 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000",
])
def test_malformed_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_smpp_receipt(text)


def test_error_message_does_not_repeat_the_text() -> None:
    with pytest.raises(ValueError) as caught:
        parse_smpp_receipt("call me on +33612345678")
    assert "+336" not in str(caught.value)


RECEIPTS = st.builds(
    SmppReceipt,
    id=st.text(alphabet="0123456789abcdefABCDEF-", min_size=1, max_size=65),
    sub=st.integers(0, 999), dlvrd=st.integers(0, 999),
    submit_date=st.datetimes(datetime(2000, 1, 1), datetime(2068, 12, 31)).map(lambda d: d.replace(second=0, microsecond=0)),
    done_date=st.datetimes(datetime(2000, 1, 1), datetime(2068, 12, 31)).map(lambda d: d.replace(microsecond=0)),
    stat=st.sampled_from(["DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "ENROUTE"]),
    err=st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=3),
    text=st.text(max_size=20).map(str.strip),
)


def format_receipt(r: SmppReceipt) -> str:
    return (f"id:{r.id} sub:{r.sub:03d} dlvrd:{r.dlvrd:03d} submit date:{r.submit_date:%y%m%d%H%M} "
            f"done date:{r.done_date:%y%m%d%H%M%S} stat:{r.stat} err:{r.err} text:{r.text}")


@settings(max_examples=300, deadline=None)
@given(receipt=RECEIPTS)
def test_round_trip(receipt: SmppReceipt) -> None:
    assert parse_smpp_receipt(format_receipt(receipt)) == receipt


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_parses_or_is_a_value_error(text: str) -> None:
    try:
        parse_smpp_receipt(text)
    except ValueError:
        pass
