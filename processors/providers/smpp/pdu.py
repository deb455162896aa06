"""SMPP 3.4 PDUs as bytes: framing, and the bodies of the few commands an ESME bound as transceiver uses.

Every PDU is a 16-octet header (command_length, command_id, command_status, sequence_number, big-endian) and a body
(SMPP 3.4 §3.2); ``split`` cuts every complete PDU out of a receive buffer at once, so a link reads whatever arrived
and handles it in one pass. Bodies follow §4: bind_transceiver (§4.1.5) and bind_transmitter (§4.1.1), submit_sm (§4.4.1) and deliver_sm (§4.6.1,
the same layout), their responses, and the TLVs a delivery receipt carries (§5.3.2: receipted_message_id,
message_state, network_error_code, message_payload). Unknown TLVs are skipped, as §3.1 asks.

Nothing here touches a socket; the fields' meaning (addresses, coding, receipts) is ``codec``'s.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = struct.Struct(">IIII")
HEADER_SIZE = HEADER.size
MAX_PDU_OCTETS = 64 * 1024  # far above any PDU of §4; a larger command_length means the stream is not SMPP
RESPONSE = 0x80000000

GENERIC_NACK = 0x80000000
BIND_TRANSMITTER = 0x00000002
BIND_TRANSMITTER_RESP = 0x80000002
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
ALERT_NOTIFICATION = 0x00000102

INTERFACE_VERSION = 0x34

# TLV tags of a delivery receipt (§5.3.2).
RECEIPTED_MESSAGE_ID = 0x001E
NETWORK_ERROR_CODE = 0x0423
MESSAGE_PAYLOAD = 0x0424
MESSAGE_STATE = 0x0427

_BYTE = struct.Struct(">B")
_TLV = struct.Struct(">HH")


class FramingError(ValueError):
    """The byte stream is not SMPP (a command_length out of range): the link cannot be read any further."""


class FieldError(ValueError):
    """A value that does not fit its field (too long, or with a NUL); ``field`` names the field."""

    def __init__(self, field_name: str, max_octets: int) -> None:
        super().__init__(f"{field_name} must be under {max_octets} octets, without NUL")
        self.field = field_name


class BodyError(ValueError):
    """One PDU's body is malformed (a string without its NUL, a length past the end): that PDU alone is unreadable."""


@dataclass(frozen=True, slots=True)
class Pdu:
    """One PDU as read: its header fields and its raw body."""

    command_id: int
    status: int
    sequence: int
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.command_id & RESPONSE


def frame(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    """One whole PDU: the header (its length counted) before ``body``."""
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def split(buffer: bytearray) -> list[Pdu]:
    """Every complete PDU at the start of ``buffer``, removed from it; an incomplete tail stays for the next read.

    ``FramingError`` when a command_length is below the header's size or above ``MAX_PDU_OCTETS``."""
    pdus: list[Pdu] = []
    start, end = 0, len(buffer)
    view = memoryview(buffer)
    try:
        while end - start >= HEADER_SIZE:
            length, command_id, status, sequence = HEADER.unpack_from(view, start)
            if length < HEADER_SIZE or length > MAX_PDU_OCTETS:
                raise FramingError(f"command_length {length} out of range (command_id 0x{command_id:08X})")
            if end - start < length:
                break
            pdus.append(Pdu(command_id, status, sequence, bytes(view[start + HEADER_SIZE:start + length])))
            start += length
    finally:
        view.release()
    del buffer[:start]
    return pdus


def cstring(value: str | bytes, max_octets: int, name: str) -> bytes:
    """A C-octet string field (§3.1): the value's octets and a NUL; ``max_octets`` counts the NUL, as §4 does."""
    octets = value.encode("latin-1") if isinstance(value, str) else value
    if len(octets) >= max_octets or b"\0" in octets:
        raise FieldError(name, max_octets)
    return octets + b"\0"


def read_cstring(body: bytes, offset: int) -> tuple[bytes, int]:
    """The C-octet string at ``offset`` (without its NUL) and the offset after it."""
    end = body.find(b"\0", offset)
    if end < 0:
        raise BodyError(f"C-octet string at {offset} has no NUL")
    return body[offset:end], end + 1


def bind(sequence: int, system_id: str, password: str, system_type: str = "", command_id: int = BIND_TRANSCEIVER) -> bytes:
    """A bind_transceiver (§4.1.5), or bind_transmitter (§4.1.1: it receives no deliver_sm), at interface version 3.4,
    any address range."""
    body = (cstring(system_id, 16, "system_id") + cstring(password, 9, "password") + cstring(system_type, 13, "system_type")
            + bytes([INTERFACE_VERSION, 0, 0]) + b"\0")
    return frame(command_id, sequence, body)


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """The fields submit_sm and deliver_sm share (§4.4.1, §4.6.1); strings as latin-1 text, octets as bytes."""

    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int = 0
    data_coding: int = 0
    short_message: bytes = b""
    registered_delivery: int = 0
    validity_period: str = ""
    service_type: str = ""
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    replace_if_present_flag: int = 0
    sm_default_msg_id: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def receipted_message_id(self) -> str | None:
        value = self.tlvs.get(RECEIPTED_MESSAGE_ID)
        return value.rstrip(b"\0").decode("latin-1") if value is not None else None

    @property
    def message_state(self) -> int | None:
        value = self.tlvs.get(MESSAGE_STATE)
        return value[0] if value else None

    @property
    def network_error_code(self) -> bytes | None:
        """Three octets: the network type, then the error code (§5.3.2.31)."""
        return self.tlvs.get(NETWORK_ERROR_CODE)

    @property
    def message_payload(self) -> bytes | None:
        return self.tlvs.get(MESSAGE_PAYLOAD)


def short_message_body(message: ShortMessage) -> bytes:
    """The body of a submit_sm (or deliver_sm) carrying ``message``; ``FieldError`` on a field §4 does not allow.

    One formatting operation (it runs once per part sent): the fields' lengths are checked first."""
    m = message
    if len(m.short_message) > 254:
        raise FieldError("short_message", 255)
    for value, max_octets, name in ((m.service_type, 6, "service_type"), (m.source_addr, 21, "source_addr"),
                                    (m.destination_addr, 21, "destination_addr"),
                                    (m.schedule_delivery_time, 17, "schedule_delivery_time"),
                                    (m.validity_period, 17, "validity_period")):
        if len(value) >= max_octets or "\0" in value or not value.isascii():  # C-octet strings are ASCII (§3.1)
            raise FieldError(name, max_octets)
    body = b"%b\0%c%c%b\0%c%c%b\0%c%c%c%b\0%b\0%c%c%c%c%c%b" % (
        m.service_type.encode(), m.source_addr_ton, m.source_addr_npi, m.source_addr.encode(), m.dest_addr_ton,
        m.dest_addr_npi, m.destination_addr.encode(), m.esm_class, m.protocol_id, m.priority_flag,
        m.schedule_delivery_time.encode(), m.validity_period.encode(), m.registered_delivery, m.replace_if_present_flag,
        m.data_coding, m.sm_default_msg_id, len(m.short_message), m.short_message)
    if m.tlvs:
        body += b"".join(_TLV.pack(tag, len(value)) + value for tag, value in m.tlvs.items())
    return body


def parse_short_message(body: bytes) -> ShortMessage:
    """A deliver_sm's (or submit_sm's) body; ``BodyError`` when it is cut short."""
    try:
        service_type, at = read_cstring(body, 0)
        source_ton, source_npi = body[at], body[at + 1]
        source, at = read_cstring(body, at + 2)
        dest_ton, dest_npi = body[at], body[at + 1]
        destination, at = read_cstring(body, at + 2)
        esm_class, protocol_id, priority = body[at], body[at + 1], body[at + 2]
        schedule, at = read_cstring(body, at + 3)
        validity, at = read_cstring(body, at)
        registered, replace_flag, data_coding, default_id, length = body[at:at + 5]
    except (IndexError, ValueError):
        raise BodyError("short message body cut short") from None
    at += 5
    if at + length > len(body):
        raise BodyError(f"sm_length {length} runs past the body")
    return ShortMessage(
        source_ton, source_npi, source.decode("latin-1"), dest_ton, dest_npi, destination.decode("latin-1"),
        esm_class, data_coding, body[at:at + length], registered, validity.decode("latin-1"), service_type.decode("latin-1"),
        protocol_id, priority, schedule.decode("latin-1"), replace_flag, default_id, read_tlvs(body, at + length))


def read_tlvs(body: bytes, offset: int) -> dict[int, bytes]:
    """The TLVs from ``offset`` to the end of the body, by tag (unknown tags included: the reader picks what it knows)."""
    tlvs: dict[int, bytes] = {}
    while offset + _TLV.size <= len(body):
        tag, length = _TLV.unpack_from(body, offset)
        offset += _TLV.size
        if offset + length > len(body):
            raise BodyError(f"TLV 0x{tag:04X} of {length} octets runs past the body")
        tlvs[tag] = body[offset:offset + length]
        offset += length
    return tlvs


def message_id(body: bytes) -> str:
    """The message_id of a submit_sm_resp (or the system_id of a bind_transceiver_resp); empty when the body is
    (an SMSC refusing a submit may send no body at all, §4.4.2)."""
    if not body:
        return ""
    value, _ = read_cstring(body, 0)
    return value.decode("latin-1")


def response(command_id: int, sequence: int, status: int = 0) -> bytes:
    """The answer to a request: deliver_sm_resp with an empty message_id (§4.6.2), others with an empty body."""
    return frame(command_id, sequence, b"\0" if command_id == DELIVER_SM_RESP else b"", status)


def submit_sequences(data: bytes, from_offset: int = 0) -> list[int]:
    """The sequence numbers of the submit_sm in ``data`` (whole PDUs back to back) that start at ``from_offset`` or
    later: what a link that ends with ``data`` unwritten past that offset never sent."""
    sequences: list[int] = []
    at = 0
    while at + HEADER_SIZE <= len(data):
        length, command_id, _status, sequence = HEADER.unpack_from(data, at)
        if length < HEADER_SIZE:
            break
        if at >= from_offset and command_id == SUBMIT_SM:
            sequences.append(sequence)
        at += length
    return sequences
