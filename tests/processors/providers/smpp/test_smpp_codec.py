"""The pure SMPP rules: addressing, GSM-7/UCS-2 encoding and splitting, submit_sm fields and validity, receipts and deliver_sm."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import smpplib.client
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.dispatch.provider import DeliveryReport, InboundSms, Submission
from processors.providers.smpp.codec import (
    Unsendable, destination_address, encode_message, parse_receipt_text, read_deliver_sm, receipt_id, source_address,
    split_octets, submit_id, submit_sm, validity_period,
)
from processors.providers.smpp import pdu
from processors.render import segments

SEQUENCES = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)  # never connected: numbers PDUs
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
GSM_TEXT = st.text(alphabet=sorted(segments.GSM7_BASIC | segments.GSM7_EXTENSION), max_size=700)
ANY_TEXT = st.text(alphabet=sorted(segments.GSM7_BASIC) + list("€[]Жж中😀"), max_size=400)


@pytest.mark.parametrize(("sender_type", "sender_id", "expected"), [
    ("ALPHANUMERIC", "COURRIER", (5, 0, "COURRIER")),
    ("SHORT_CODE", "38383", (3, 0, "38383")),
    ("LONG_CODE", "+33757000101", (1, 1, "33757000101")),
    ("TOLL_FREE", "+18005550100", (1, 1, "18005550100")),
])
def test_source_ton_npi_follow_the_sender_type(sender_type: str, sender_id: str, expected: tuple[int, int, str]) -> None:
    assert source_address(sender_type, sender_id) == expected


def test_an_rcs_agent_cannot_send_over_smpp() -> None:
    with pytest.raises(Unsendable) as raised:
        source_address("RCS_AGENT", "agent@rbm")
    assert raised.value.detail == "unsupported_sender_type:RCS_AGENT"


def test_destination_is_international_without_its_plus() -> None:
    assert destination_address("+33612345678") == (1, 1, "33612345678")


@pytest.mark.parametrize(("expires_at", "field"), [
    (datetime(2026, 11, 23, 8, 5, 30, 999_000, tzinfo=timezone.utc), "261123080530900+"),
    (datetime(2026, 11, 23, 9, 5, 30, tzinfo=timezone(timedelta(hours=1))), "261123080530000+"),  # given in UTC
    (datetime(2027, 1, 2, 3, 4, 5, 50_000, tzinfo=timezone.utc), "270102030405000+"),  # cut down, never later
])
def test_validity_period_is_the_absolute_utc_form(expires_at: datetime, field: str) -> None:
    assert validity_period(expires_at) == field and len(field) == 16


def test_a_submit_sm_carries_the_validity_on_the_wire() -> None:
    submission = Submission("m1", "COURRIER", "ALPHANUMERIC", "+33612345678", "Code 1234", "GSM7",
                            expires_at=NOW + timedelta(minutes=10))
    message = submit_sm(submission, source_address("ALPHANUMERIC", "COURRIER"), encode_message("Code 1234", "GSM7"), 0)
    raw = pdu.frame(pdu.SUBMIT_SM, 7, pdu.short_message_body(message))  # our bytes, read by another implementation
    parsed = smpplib.smpp.parse_pdu(raw, client=SEQUENCES, allow_unknown_opt_params=True)
    assert parsed.validity_period == b"261123081000000+"
    assert (parsed.destination_addr, parsed.source_addr, parsed.registered_delivery) == (b"33612345678", b"COURRIER", 1)
    without = submit_sm(Submission("m2", "COURRIER", "ALPHANUMERIC", "+33612345678", "hi", "GSM7"),
                        source_address("ALPHANUMERIC", "COURRIER"), encode_message("hi", "GSM7"), 0)
    assert without.validity_period == ""  # the SMSC's default validity then


def test_a_short_gsm_text_is_one_payload_in_the_default_alphabet() -> None:
    encoded = encode_message("Prix: 5€ @ {Paris}", "GSM7")
    assert encoded.data_coding == 0 and encoded.esm_class == 0
    assert encoded.payloads == ["Prix: 5€ @ {Paris}".encode("gsm03.38")]
    assert encoded.payloads[0][:1] != b"" and b"\x00" in encoded.payloads[0]  # '@' is septet 0x00, not ASCII 0x40


def test_160_septets_fit_one_message_and_161_make_two_parts() -> None:
    assert len(encode_message("a" * 160, "GSM7").payloads) == 1
    two = encode_message("a" * 161, "GSM7", reference=7)
    assert [p[:6] for p in two.payloads] == [bytes([5, 0, 3, 7, 2, 1]), bytes([5, 0, 3, 7, 2, 2])]
    assert two.esm_class == 0x40 and [len(p) - 6 for p in two.payloads] == [153, 8]


def test_400_gsm_characters_make_three_parts_that_join_back() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(400))
    encoded = encode_message(text, "GSM7", reference=300)
    assert len(encoded.payloads) == 3
    assert {p[3] for p in encoded.payloads} == {300 % 256} and [p[5] for p in encoded.payloads] == [1, 2, 3]
    assert b"".join(p[6:] for p in encoded.payloads).decode("gsm03.38") == text


def test_an_escape_is_never_separated_from_its_character() -> None:
    text = "a" * 152 + "€" + "b" * 20  # '€' is 0x1B 0x65: septets 153 and 154
    bodies = [p[6:] for p in encode_message(text, "GSM7").payloads]
    assert bodies[0] == b"a" * 152 and bodies[1].startswith(b"\x1b\x65")


def test_a_surrogate_pair_is_never_split() -> None:
    text = "ж" * 66 + "😀" + "ж" * 10  # the emoji takes UTF-16 units 67 and 68
    encoded = encode_message(text, "UCS2")
    assert encoded.data_coding == 8
    bodies = [p[6:] for p in encoded.payloads]
    assert len(bodies[0]) == 132 and bodies[1].decode("utf-16-be").startswith("😀")


def test_a_gsm_submission_with_a_character_gsm_lacks_goes_out_as_ucs2() -> None:
    encoded = encode_message("Привет", "GSM7")
    assert encoded.data_coding == 8 and encoded.payloads == ["Привет".encode("utf-16-be")]


def test_render_parts_are_kept_when_each_fits_and_recut_when_not() -> None:
    parts = ["a" * 100, "b" * 100]
    assert [p[6:] for p in encode_message("".join(parts), "GSM7", parts).payloads] == [b"a" * 100, b"b" * 100]
    too_long = ["a" * 180, "b" * 20]
    assert [len(p) - 6 for p in encode_message("".join(too_long), "GSM7", too_long).payloads] == [153, 47]


def test_more_than_255_parts_is_unsendable() -> None:
    with pytest.raises(Unsendable):
        encode_message("a" * 153 * 256, "GSM7")


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_parts_match_what_render_counted(text: str) -> None:
    info = segments.count(text)
    encoded = encode_message(text, info.encoding)
    assert len(encoded.payloads) == info.segments
    assert encoded.data_coding == (0 if info.encoding == "GSM7" else 8)


@settings(max_examples=200, deadline=None)
@given(GSM_TEXT)
def test_gsm_parts_are_whole_characters_that_join_back(text: str) -> None:
    data = text.encode("gsm03.38")
    chunks = split_octets(data, "GSM7")
    assert b"".join(chunks) == data and all(len(c) <= 153 for c in chunks)
    assert "".join(c.decode("gsm03.38") for c in chunks) == text


def test_receipt_text_fields() -> None:
    text = "id:1570429728 sub:001 dlvrd:001 submit date:2611230819 done date:261123081945 stat:DELIVRD err:000 text:stat:UNDELIV id:9"
    assert parse_receipt_text(text) == {
        "id": "1570429728", "sub": "001", "dlvrd": "001", "submit date": "2611230819", "done date": "261123081945",
        "stat": "DELIVRD", "err": "000", "text": "stat:UNDELIV id:9",
    }


def test_receipt_text_in_lower_case_and_with_missing_fields() -> None:
    assert parse_receipt_text("ID:abc-42 Stat:UNDELIV Err:011") == {"id": "abc-42", "stat": "UNDELIV", "err": "011"}
    assert parse_receipt_text("Hello World") == {}


def test_ids_in_decimal_mode_match_across_submit_and_receipt() -> None:
    assert submit_id("5d9adb20", decimal=True) == receipt_id("1570429728", decimal=True) == "1570429728"
    assert submit_id("05d9adb20", decimal=True) == receipt_id("01570429728", decimal=True)
    assert submit_id("msg-1", decimal=True) == "msg-1" and submit_id("5d9adb20", decimal=False) == "5d9adb20"


def _deliver_sm(**fields) -> pdu.ShortMessage:
    """A deliver_sm as it comes off the wire: generated by another implementation (smpplib), read by ours."""
    raw = smpplib.smpp.make_pdu("deliver_sm", client=SEQUENCES, **fields).generate()
    return pdu.parse_short_message(raw[pdu.HEADER_SIZE:])


def test_a_receipt_in_text_only() -> None:
    message = _deliver_sm(esm_class=0x04, source_addr_ton=1, source_addr="33612345678", destination_addr="COURRIER",
                      short_message=b"id:1570429728 sub:001 dlvrd:001 submit date:2611230819 done date:2611230819 "
                                    b"stat:UNDELIV err:011 text:Hello")
    report = read_deliver_sm(message, "smpp:test", NOW, decimal_ids=True)
    assert report == DeliveryReport("smpp:test", "1570429728", "UNDELIV", "011", message.short_message.decode(), NOW)


def test_receipt_tlvs_win_over_the_text() -> None:
    message = _deliver_sm(esm_class=0x04, source_addr="33612345678", short_message=b"id:1 stat:ENROUTE err:000",
                      receipted_message_id="5d9adb20", message_state=2)
    report = read_deliver_sm(message, "smpp:test", NOW, decimal_ids=True)
    assert isinstance(report, DeliveryReport)
    assert (report.provider_message_id, report.raw_status, report.error_code) == ("1570429728", "DELIVRD", "000")


def test_a_receipt_without_any_id_is_none() -> None:
    assert read_deliver_sm(_deliver_sm(esm_class=0x04, short_message=b"stat:DELIVRD"), "smpp:test", NOW) is None


def test_a_mobile_originated_message_is_inbound() -> None:
    message = _deliver_sm(source_addr_ton=1, source_addr="555", destination_addr="12345", short_message=b"Hello World")
    assert read_deliver_sm(message, "smpp:test", NOW) == InboundSms("smpp:test", "+555", "12345", "Hello World", NOW)


def test_an_inbound_ucs2_part_loses_its_header() -> None:
    message = _deliver_sm(source_addr_ton=5, source_addr="Bank", destination_addr="38383", esm_class=0x40, data_coding=8,
                      short_message=bytes([5, 0, 3, 1, 2, 1]) + "Привет".encode("utf-16-be"))
    message = read_deliver_sm(message, "smpp:test", NOW)
    assert isinstance(message, InboundSms) and (message.from_number, message.text) == ("Bank", "Привет")


def test_inbound_gsm_text_is_read_in_the_gsm_alphabet() -> None:
    message = _deliver_sm(source_addr_ton=1, source_addr="33612345678", short_message="STOP § @".encode("gsm03.38"))
    assert read_deliver_sm(message, "smpp:test", NOW).text == "STOP § @"


@given(st.text(alphabet=sorted(segments.GSM7_BASIC | segments.GSM7_EXTENSION | set("\n\rabcXYZ09 ")), max_size=70))
def test_the_ascii_fast_path_encodes_as_the_gsm_codec_does(text: str) -> None:
    [payload] = encode_message(text, "GSM7").payloads
    assert payload == text.encode("gsm03.38")
