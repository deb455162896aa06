"""Our PDU framing and bodies against another implementation (smpplib) both ways, and every malformed input refused."""
from __future__ import annotations

import pytest
import smpplib.client
import smpplib.smpp
from hypothesis import given
from hypothesis import strategies as st

from processors.providers.smpp import pdu

SEQUENCES = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)  # never connected: numbers smpplib's PDUs
ADDRESS = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=20)
OCTET = st.integers(0, 255)


def smpplib_reads(raw: bytes):
    return smpplib.smpp.parse_pdu(raw, client=SEQUENCES, allow_unknown_opt_params=True)


@given(st.lists(st.tuples(st.sampled_from([pdu.SUBMIT_SM_RESP, pdu.DELIVER_SM, pdu.ENQUIRE_LINK]), st.integers(1, 0x7FFFFFFF),
                          st.binary(max_size=300)), max_size=8),
       st.lists(st.integers(1, 97), min_size=1, max_size=50))
def test_split_finds_the_same_pdus_however_the_bytes_arrive(pdus: list[tuple[int, int, bytes]], cuts: list[int]) -> None:
    stream = b"".join(pdu.frame(command, sequence, body) for command, sequence, body in pdus)
    buffer, found, at = bytearray(), [], 0
    for cut in cuts * (len(stream) // sum(cuts) + 1):
        buffer += stream[at:at + cut]
        at += cut
        found += pdu.split(buffer)
    assert [(p.command_id, p.sequence, p.body) for p in found] == pdus and buffer == b""


@pytest.mark.parametrize("length", [0, 15, pdu.MAX_PDU_OCTETS + 1])
def test_a_command_length_out_of_range_is_not_smpp(length: int) -> None:
    buffer = bytearray(pdu.HEADER.pack(length, pdu.DELIVER_SM, 0, 1) + b"\0" * 32)
    with pytest.raises(pdu.FramingError):
        pdu.split(buffer)


@given(ADDRESS, ADDRESS, OCTET, OCTET, OCTET, st.binary(max_size=254), st.sampled_from(["", "261123081000000+"]))
def test_our_submit_sm_reads_the_same_in_smpplib(source: str, destination: str, ton: int, esm_class: int, data_coding: int,
                                                 payload: bytes, validity: str) -> None:
    message = pdu.ShortMessage(ton, 1, source, 1, 1, destination, esm_class, data_coding, payload, registered_delivery=1,
                               validity_period=validity)
    parsed = smpplib_reads(pdu.frame(pdu.SUBMIT_SM, 42, pdu.short_message_body(message)))
    assert (parsed.command, parsed.sequence, parsed.source_addr_ton, parsed.esm_class, parsed.data_coding) == (
        "submit_sm", 42, ton, esm_class, data_coding)
    assert (parsed.source_addr or b"", parsed.destination_addr or b"") == (source.encode(), destination.encode())
    assert (parsed.short_message or b"", parsed.registered_delivery, parsed.validity_period or b"") == (payload, 1, validity.encode())


@given(ADDRESS, ADDRESS, OCTET, st.binary(max_size=254), st.text(alphabet="0123456789abcdef", min_size=1, max_size=20),
       st.integers(1, 8))
def test_an_smpplib_deliver_sm_with_receipt_tlvs_reads_the_same_in_ours(source: str, destination: str, data_coding: int,
                                                                       payload: bytes, receipted: str, state: int) -> None:
    raw = smpplib.smpp.make_pdu("deliver_sm", client=SEQUENCES, source_addr_ton=1, source_addr=source, destination_addr=destination,
                                esm_class=0x04, data_coding=data_coding, short_message=payload, receipted_message_id=receipted,
                                message_state=state, network_error_code=b"\x03\x00\x0b").generate()
    [read] = pdu.split(bytearray(raw))
    message = pdu.parse_short_message(read.body)
    assert (read.command_id, message.source_addr, message.destination_addr, message.esm_class) == (pdu.DELIVER_SM, source, destination, 4)
    assert (message.data_coding, message.short_message, message.receipted_message_id) == (data_coding, payload, receipted)
    assert (message.message_state, message.network_error_code, message.message_payload) == (state, b"\x03\x00\x0b", None)


def test_binds_read_as_version_3_4_in_smpplib() -> None:
    parsed = smpplib_reads(pdu.bind(9, "courrier", "secret", "OTP"))
    assert (parsed.command, parsed.sequence, parsed.system_id, parsed.password, parsed.system_type) == (
        "bind_transceiver", 9, b"courrier", b"secret", b"OTP")
    assert parsed.interface_version == 0x34
    assert smpplib_reads(pdu.bind(10, "courrier", "secret", command_id=pdu.BIND_TRANSMITTER)).command == "bind_transmitter"


def test_answers_read_as_smpplib_reads_them() -> None:
    resp = smpplib_reads(pdu.response(pdu.DELIVER_SM_RESP, 5, 0x64))
    assert (resp.command, resp.sequence, resp.status) == ("deliver_sm_resp", 5, 0x64)
    nack = smpplib_reads(pdu.response(pdu.GENERIC_NACK, 6, 0x03))
    assert (nack.command, nack.status) == ("generic_nack", 0x03)
    submit_resp = smpplib.smpp.make_pdu("submit_sm_resp", client=SEQUENCES, message_id="5d9adb20")
    submit_resp.sequence = 3
    [read] = pdu.split(bytearray(submit_resp.generate()))
    assert (read.command_id, read.sequence, pdu.message_id(read.body)) == (pdu.SUBMIT_SM_RESP, 3, "5d9adb20")
    assert pdu.message_id(b"") == ""  # a refusal may come without a body


@pytest.mark.parametrize("field_name, message", [
    ("source_addr", pdu.ShortMessage(5, 0, "A" * 21, 1, 1, "33612345678")),
    ("source_addr", pdu.ShortMessage(5, 0, "Café", 1, 1, "33612345678")),  # C-octet strings are ASCII
    ("destination_addr", pdu.ShortMessage(5, 0, "COURRIER", 1, 1, "3" * 25)),
    ("short_message", pdu.ShortMessage(5, 0, "COURRIER", 1, 1, "33612345678", short_message=b"x" * 255)),
])
def test_a_value_too_long_for_its_field_is_named(field_name: str, message: pdu.ShortMessage) -> None:
    with pytest.raises(pdu.FieldError) as refused:
        pdu.short_message_body(message)
    assert refused.value.field == field_name


def test_a_body_cut_short_or_a_tlv_past_the_end_is_unreadable() -> None:
    body = pdu.short_message_body(pdu.ShortMessage(1, 1, "33612345678", 5, 0, "COURRIER", short_message=b"hello"))
    for cut in (0, 3, 20, len(body) - 1):
        with pytest.raises(pdu.BodyError):
            pdu.parse_short_message(body[:cut])
    with pytest.raises(pdu.BodyError):
        pdu.parse_short_message(body + b"\x04\x27\x00\x05\x02")


def test_the_unsent_submits_of_a_buffer_from_an_offset() -> None:
    data = pdu.frame(pdu.SUBMIT_SM, 1, b"a" * 10) + pdu.response(pdu.DELIVER_SM_RESP, 2) + pdu.frame(pdu.SUBMIT_SM, 3, b"b")
    assert pdu.submit_sequences(data) == [1, 3]
    assert pdu.submit_sequences(data, from_offset=1) == [3]  # the first one had begun to leave
    assert pdu.submit_sequences(b"") == []
