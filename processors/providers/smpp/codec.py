"""Pure SMPP 3.4 rules the provider applies: addressing, text encoding and splitting, validity, receipts.

Nothing here touches a socket: each function maps values to values, so each is unit-tested alone. The fields' bytes
are ``pdu``'s; command statuses and what each calls for live in ``errors``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

from processors.dispatch.provider import Ack, DeliveryReport, InboundSms, Submission
from processors.providers.smpp.pdu import ShortMessage

# (TON, NPI) of the source address by courrier.SenderType (SMPP 3.4 §5.2.5-6).
SOURCE_ADDRESSING = {"ALPHANUMERIC": (5, 0), "SHORT_CODE": (3, 0), "LONG_CODE": (1, 1), "TOLL_FREE": (1, 1)}
INTERNATIONAL, ISDN = 1, 1

DATA_CODING = {"GSM7": 0x00, "UCS2": 0x08}  # SMSC default alphabet (GSM 03.38, one septet per octet), UCS-2
CODEC = {"GSM7": "gsm03.38", "UCS2": "utf-16-be"}
SINGLE_OCTETS = {"GSM7": 160, "UCS2": 140}  # what fits one message without a header
PART_OCTETS = {"GSM7": 153, "UCS2": 134}  # what fits beside a 6-octet concatenation header (GSM-7: 7 septets of it)
ESCAPE = 0x1B
UDHI = 0x40  # esm_class bit: short_message starts with a user data header
DELIVERY_RECEIPT = 0x04  # esm_class message type bits of a deliver_sm that carries a delivery receipt

# message_state TLV values (SMPP 3.4 §5.2.28) as the receipt text's stat words.
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}

# The characters GSM 03.38 keeps at their ASCII codes: a text of only these encodes as ASCII, without the (pure
# Python, per character) codec. '@', '$', '_' and the extension table's '[\\]^{|}~' are elsewhere; '`' is not in it.
_ASCII_IN_GSM7 = re.compile(r"[\n\r !\"#%&'()*+,\-./0-9:;<=>?A-Za-z]*")
_RECEIPT_FIELD = re.compile(r"\b(id|sub|dlvrd|submit date|done date|stat|err):(\S*)", re.IGNORECASE)
_RECEIPT_TEXT = re.compile(r"\btext:", re.IGNORECASE)


class Unsendable(ValueError):
    """A submission no SMPP peer can take as it is; ``detail`` is the normalized reason."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Encoded:
    """A text as submit_sm payloads: one per part, each with its concatenation header when there are several."""

    payloads: list[bytes]
    data_coding: int
    esm_class: int


def source_address(sender_type: str, sender_id: str) -> tuple[int, int, str]:
    """``(ton, npi, address)`` of a sender: international numbers go without their '+'."""
    if sender_type not in SOURCE_ADDRESSING:
        raise Unsendable(f"unsupported_sender_type:{sender_type}")
    ton, npi = SOURCE_ADDRESSING[sender_type]
    return ton, npi, sender_id.removeprefix("+") if ton == INTERNATIONAL else sender_id


def destination_address(e164: str) -> tuple[int, int, str]:
    """``(ton, npi, address)`` of an E.164 recipient."""
    return INTERNATIONAL, ISDN, e164.removeprefix("+")


def submit_sm(submission: Submission, source: tuple[int, int, str], encoded: Encoded, part: int) -> ShortMessage:
    """The submit_sm of one part: addresses, coding, a delivery receipt asked for, and the message's validity when it
    has one (every message dispatch plans has)."""
    ton, npi, address = source
    dest_ton, dest_npi, destination = destination_address(submission.destination)
    validity = validity_period(submission.expires_at) if submission.expires_at is not None else ""
    return ShortMessage(ton, npi, address, dest_ton, dest_npi, destination, encoded.esm_class, encoded.data_coding,
                        encoded.payloads[part], registered_delivery=1, validity_period=validity)


def validity_period(expires_at: datetime) -> str:
    """``expires_at`` as a submit_sm ``validity_period`` in SMPP 3.4 absolute form (§7.1.1): ``YYMMDDhhmmsstnnp``, in
    UTC (``nn`` = 00 quarter-hours from UTC, ``p`` = ``+``), cut down to the tenth of a second so the network never
    holds the message past ``expires_at``. Absolute rather than relative (``…R``): the moment the SMSC gives up is
    exactly the one dispatch computed (and parks its report deadline after), whatever the time in transit."""
    moment = expires_at.astimezone(timezone.utc)
    return f"{moment:%y%m%d%H%M%S}{moment.microsecond // 100_000}00+"


def encode_message(text: str, encoding: str, parts: list[str] | None = None, reference: int = 0) -> Encoded:
    """The payloads of a message in ``encoding`` (GSM-7 falls back to UCS-2 when the text has a character GSM-7 lacks).

    Render's ``parts`` are kept when each fits a part; otherwise the text is cut here, never between an
    escape and its character nor inside a surrogate pair. ``reference`` is the 8-bit concatenation reference.
    """
    if encoding not in CODEC:
        raise Unsendable(f"unsupported_encoding:{encoding}")
    pieces = parts if parts and len(parts) > 1 else [text]
    try:
        encoded = [_encode(piece, encoding) for piece in pieces]
    except UnicodeEncodeError:
        encoding = "UCS2"
        encoded = [piece.encode(CODEC[encoding]) for piece in pieces]
    whole = b"".join(encoded)
    if len(whole) <= SINGLE_OCTETS[encoding]:
        chunks = [whole]
    elif len(encoded) > 1 and all(len(chunk) <= PART_OCTETS[encoding] for chunk in encoded):
        chunks = encoded
    else:
        chunks = split_octets(whole, encoding)
    if len(chunks) == 1:
        return Encoded(chunks, DATA_CODING[encoding], 0)
    if len(chunks) > 255:
        raise Unsendable("message_too_long")
    headers = [bytes([0x05, 0x00, 0x03, reference % 256, len(chunks), n]) for n in range(1, len(chunks) + 1)]
    return Encoded([h + chunk for h, chunk in zip(headers, chunks)], DATA_CODING[encoding], UDHI)


def _encode(piece: str, encoding: str) -> bytes:
    if encoding == "GSM7" and _ASCII_IN_GSM7.fullmatch(piece):
        return piece.encode("ascii")
    return piece.encode(CODEC[encoding])


def split_octets(data: bytes, encoding: str) -> list[bytes]:
    """``data`` cut into parts of at most ``PART_OCTETS[encoding]`` octets, each a whole number of characters."""
    size, chunks, start = PART_OCTETS[encoding], [], 0
    while start < len(data):
        end = min(start + size, len(data))
        if end < len(data):
            if encoding == "GSM7" and data[end - 1] == ESCAPE:  # 0x1B only ever starts an extension pair
                end -= 1
            elif encoding == "UCS2" and 0xD8 <= data[end - 2] <= 0xDB:  # a high surrogate: its low half follows
                end -= 2
        chunks.append(data[start:end])
        start = end
    return chunks


def decode_text(payload: bytes, data_coding: int, esm_class: int = 0) -> str:
    """The text of a deliver_sm payload, without its user data header; data_coding 0 is read as GSM 03.38, then Latin-1."""
    if esm_class & UDHI and payload:
        payload = payload[1 + payload[0]:]
    if data_coding == DATA_CODING["UCS2"]:
        return payload.decode("utf-16-be", "replace")
    if data_coding == DATA_CODING["GSM7"]:
        try:
            return payload.decode("gsm03.38")
        except UnicodeDecodeError:
            pass
    return payload.decode("latin-1")


def parse_receipt_text(text: str) -> dict[str, str]:
    """The fields of a receipt text in SMPP 3.4 appendix B form ("id:… sub:… dlvrd:… submit date:… done date:…
    stat:… err:… text:…"), keyed in lower case; absent fields are absent. ``text`` runs to the end.

    Kept small on purpose: the receipt stage normalizes statuses; this only finds the id, stat and err.
    """
    found = _RECEIPT_TEXT.search(text)
    head = text[:found.start()] if found else text
    fields = {key.lower(): value for key, value in _RECEIPT_FIELD.findall(head)}
    if found:
        fields["text"] = text[found.end():]
    return fields


def submit_id(raw: str, decimal: bool) -> str:
    """A submit_sm_resp message id as reported: verbatim, or its decimal value when the SMSC writes receipts in decimal."""
    if not decimal:
        return raw
    try:
        return str(int(raw, 16))
    except ValueError:
        return raw


def receipt_id(raw: str, decimal: bool) -> str:
    """A receipt text's ``id`` as reported, in the same form as ``submit_id`` gives (no leading zeros in decimal)."""
    return str(int(raw)) if decimal and raw.isdigit() else raw


def read_deliver_sm(pdu: ShortMessage, provider: str, received_at: datetime, decimal_ids: bool = False,
                    ack: Ack | None = None) -> DeliveryReport | InboundSms | None:
    """What a deliver_sm carries: a delivery receipt, a mobile-originated message (each with ``ack``), or None for a
    receipt without an id.

    A receipt's id and state come from the receipted_message_id / message_state TLVs when present (they are
    the SMSC's own submit-form values), else from the receipt text.
    """
    payload = pdu.short_message or pdu.message_payload or b""
    if pdu.esm_class & DELIVERY_RECEIPT:
        raw = payload.decode("latin-1")  # receipt texts are ASCII (appendix B)
        fields = parse_receipt_text(raw)
        tlv_id = pdu.receipted_message_id
        message_id = submit_id(tlv_id, decimal_ids) if tlv_id else receipt_id(fields.get("id", ""), decimal_ids)
        if not message_id:
            return None
        state = pdu.message_state
        stat = MESSAGE_STATES.get(state, "UNKNOWN") if state is not None else fields.get("stat", "UNKNOWN").upper()
        network_error = pdu.network_error_code
        err = fields.get("err") or (str(int.from_bytes(network_error[1:], "big")) if network_error else None)
        return DeliveryReport(provider, message_id, stat, err, raw, received_at, ack)
    source = pdu.source_addr
    from_number = f"+{source}" if pdu.source_addr_ton == INTERNATIONAL and source.isdigit() else source
    return InboundSms(provider, from_number, pdu.destination_addr, decode_text(payload, pdu.data_coding, pdu.esm_class), received_at,
                      ack)
