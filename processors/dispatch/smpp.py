"""SMPP 3.4 provider over smpplib: one transceiver bind, windowed asynchronous submit_sm, delivery receipts back.

A reader thread owns the socket's receiving side (submit_sm_resp, deliver_sm, enquire_link);
``submit_many`` keeps at most ``window`` submits outstanding, backs off on ESME_RTHROTTLED, and
reports a submit whose answer was lost as transient (dispatch must reconcile, not resubmit).
"""
from __future__ import annotations

import logging
import random
import re
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

import smpplib.client
import smpplib.consts as c
import smpplib.exceptions
import smpplib.gsm

from courrier.logs import mask_text
from processors.dispatch.provider import DeliveryReport, InboundSms, Submission, SubmitResult
from processors.render.segments import split
from processors.runtime.errors import UnreachableError

log = logging.getLogger(__name__)
# smpplib warns once per PDU about jsmpp's vendor TLV 0x0428 and logs socket errors we already handle and report.
logging.getLogger("smpplib.command").setLevel(logging.ERROR)
logging.getLogger("courrier.smpp.wire").setLevel(logging.ERROR)
RECENT_IDS = 1_000_000

SMSC_DELIVERY_RECEIPT = 0x04  # esm_class message type bits of a deliver_sm that carries a delivery receipt
THROTTLED = frozenset({0x58, 0x14})  # ESME_RTHROTTLED, ESME_RMSGQFUL: slow down and try again
TRANSIENT_ERRORS = THROTTLED | {0x08, 0x45}  # system error, submit failed: the SMSC's trouble, not the message's
ERROR_REASONS = {
    0x01: "invalid_message_length", 0x03: "invalid_command", 0x08: "smsc_system_error", 0x0A: "invalid_source_address",
    0x0B: "invalid_destination_address", 0x0C: "invalid_message_id", 0x14: "message_queue_full", 0x45: "submit_failed",
    0x58: "throttled", 0x61: "invalid_scheduled_time", 0x62: "invalid_validity_period", 0x66: "invalid_data_coding",
}
# (TON, NPI) of the source address by sender type.
SOURCE_ADDRESSING = {"ALPHANUMERIC": (5, 0), "SHORT_CODE": (3, 0), "LONG_CODE": (1, 1), "TOLL_FREE": (1, 1)}
_RECEIPT = re.compile(
    r"id:(?P<id>\S+)\s+sub:(?P<sub>\S+)\s+dlvrd:(?P<dlvrd>\S+)\s+submit date:(?P<submit>\d+)\s+done date:(?P<done>\d+)"
    r"\s+stat:(?P<stat>\w+)\s+err:(?P<err>\w+)", re.IGNORECASE)


def error_reason(status: int) -> str:
    """A normalized reason for an SMPP command_status."""
    return ERROR_REASONS.get(status, f"smpp_error_0x{status:02X}")


def parse_receipt(text: str) -> tuple[str, str, str]:
    """``(message id, stat, err)`` of an SMPP delivery receipt text; ``ValueError`` when it is not one."""
    match = _RECEIPT.search(text)
    if match is None:
        raise ValueError(f"not an SMPP delivery receipt: {mask_text(text[:120])!r}")
    return match["id"], match["stat"].upper(), match["err"]


def encode_parts(text: str, encoding: str) -> tuple[list[bytes], int, int]:
    """``(payloads, data_coding, esm_class)``: parts split where render counted them, each with a concatenation UDH when needed."""
    parts = split(text)
    if encoding == "GSM7":
        encoded, data_coding = [smpplib.gsm.gsm_encode(p) for p in parts], c.SMPP_ENCODING_DEFAULT
    else:
        encoded, data_coding = [p.encode("utf-16-be") for p in parts], c.SMPP_ENCODING_ISO10646
    if len(encoded) == 1:
        return encoded, data_coding, c.SMPP_MSGTYPE_DEFAULT
    reference = random.randint(0, 255)
    udh = [bytes([0x05, 0x00, 0x03, reference, len(encoded), i]) for i in range(1, len(encoded) + 1)]
    return [h + body for h, body in zip(udh, encoded)], data_coding, c.SMPP_GSMFEAT_UDHI


class _LockedClient(smpplib.client.Client):
    """smpplib's client with sends and sequence numbers serialized: the reader thread answers PDUs while dispatch submits."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._send_lock = threading.Lock()

    def send_pdu(self, p) -> bool:
        with self._send_lock:
            return super().send_pdu(p)

    def next_sequence(self) -> int:
        with self._send_lock:
            return super().next_sequence()


@dataclass
class _Pending:
    """One submission being sent: its encoded parts and what the SMSC answered for each."""

    submission: Submission
    payloads: list[bytes]
    data_coding: int
    esm_class: int
    ids: dict[int, str] = field(default_factory=dict)
    error: int | None = None
    transient: bool = False


class SmppProvider:
    """An SMPP 3.4 ESME bound as transceiver to one SMSC."""

    def __init__(self, host: str, port: int, system_id: str, password: str, *, window: int = 10,
                 on_report: Callable[[DeliveryReport], None], on_inbound: Callable[[InboundSms], None],
                 name: str | None = None, keepalive_s: float = 5.0, bind_timeout_s: float = 20.0, bind_attempts: int = 5) -> None:
        self.name = name or f"smpp:{host}:{port}"
        self._address = (host, port)
        self._credentials = (system_id, password)
        self._window = window
        self._on_report = on_report
        self._on_inbound = on_inbound
        self._keepalive_s = keepalive_s
        self._bind_timeout_s = bind_timeout_s
        self._bind_attempts = bind_attempts
        self._client: _LockedClient | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._in_flight: dict[int, tuple[_Pending, int]] = {}
        self._answered: list[tuple[int, int, str]] = []
        self._closing = False
        self._connected = False
        self._recent_ids: OrderedDict[str, None] = OrderedDict()

    def open(self) -> None:
        """Connect and bind (bounded retries with backoff); ``UnreachableError`` when the SMSC never answers."""
        host, port = self._address
        for attempt in range(self._bind_attempts):
            try:
                self._bind()
                return
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as exc:
                log.warning("SMPP bind failed", extra={"peer": f"{host}:{port}", "attempt": attempt + 1, "error": repr(exc)})
                time.sleep(min(5.0, 0.5 * 2 ** attempt))
        raise UnreachableError(f"SMPP peer {host}:{port} did not accept a bind; run `courrier infra up smsc` or set COURRIER_SMPP_HOST")

    def _bind(self) -> None:
        client = _LockedClient(*self._address, timeout=self._bind_timeout_s, allow_unknown_opt_params=True,
                               logger_name="courrier.smpp.wire")
        client.set_message_sent_handler(self._on_submit_resp)
        client.set_message_received_handler(self._on_deliver)
        client.set_error_pdu_handler(self._on_error_pdu)
        try:
            client.connect()
            system_id, password = self._credentials
            client.bind_transceiver(system_id=system_id, password=password)
        except BaseException:
            client.disconnect()  # a half-open session would count against the SMSC's bind limit
            raise
        # A quiet read of keepalive_s makes smpplib send enquire_link, which keeps the bind alive through NATs and idle timers.
        client._socket.settimeout(self._keepalive_s)
        self._client = client
        self._connected = True
        self._reader = threading.Thread(target=self._read_loop, args=(client,), name="smpp-reader", daemon=True)
        self._reader.start()

    def close(self) -> None:
        self._closing = True
        client = self._client
        if client is not None and self._connected:
            try:
                client.unbind()
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
                pass
        if client is not None:
            client.disconnect()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read_loop(self, client: _LockedClient) -> None:
        while not self._closing:
            try:
                client.read_once()
            except (smpplib.exceptions.ConnectionError, OSError, socket.timeout) as exc:
                if not self._closing:
                    log.warning("SMPP connection lost", extra={"peer": self.name, "error": str(exc)})
                break
            except smpplib.exceptions.PDUError as exc:
                log.warning("SMPP PDU error", extra={"peer": self.name, "error": str(exc)})
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def _on_error_pdu(self, pdu) -> None:
        # smpplib calls this and then the command's own handler; a failed submit_sm_resp is handled there.
        if pdu.command != "submit_sm_resp":
            log.warning("SMPP error PDU", extra={"peer": self.name, "command": pdu.command, "status": int(pdu.status)})

    def _on_submit_resp(self, pdu) -> None:
        with self._cond:
            self._answered.append((pdu.sequence, int(pdu.status), (pdu.message_id or b"").decode() if isinstance(pdu.message_id, bytes)
                                   else str(pdu.message_id or "")))
            self._cond.notify_all()

    def _on_deliver(self, pdu, **_kwargs) -> int:
        now = datetime.now(timezone.utc)
        text = _decode(pdu.short_message or b"", int(pdu.data_coding or 0))
        if int(pdu.esm_class or 0) & SMSC_DELIVERY_RECEIPT:
            try:
                message_id, stat, err = parse_receipt(text)
            except ValueError as exc:
                log.warning("unreadable delivery receipt", extra={"peer": self.name, "error": str(exc)})
                return c.SMPP_ESME_ROK
            receipted = getattr(pdu, "receipted_message_id", None)
            if receipted:
                message_id = receipted.decode() if isinstance(receipted, bytes) else str(receipted)
            self._on_report(DeliveryReport(self.name, self._submitted_id(message_id), stat, err, text, now))
        else:
            sender = (pdu.source_addr or b"").decode() if isinstance(pdu.source_addr, bytes) else str(pdu.source_addr or "")
            to = (pdu.destination_addr or b"").decode() if isinstance(pdu.destination_addr, bytes) else str(pdu.destination_addr or "")
            self._on_inbound(InboundSms(self.name, sender if sender.startswith("+") or not sender.isdigit() else f"+{sender}", to, text, now))
        return c.SMPP_ESME_ROK

    def _submitted_id(self, receipt_id: str) -> str:
        """The id submit_sm_resp gave for a receipt's id: some SMSCs (jsmpp among them) write a hex id in decimal in receipts."""
        if receipt_id in self._recent_ids or not receipt_id.isdigit():
            return receipt_id
        as_hex = format(int(receipt_id), "x")
        return as_hex if as_hex in self._recent_ids else receipt_id

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """Submit every message, at most ``window`` submit_sm outstanding; one result per submission, in order."""
        if not self._connected and not self._closing:
            self.open()
        pending = [_Pending(s, *encode_parts(s.text, s.encoding)) for s in submissions]
        queue: list[tuple[_Pending, int, float]] = [(p, i, 0.0) for p in pending for i in range(len(p.payloads))]
        deadline = time.monotonic() + timeout_s
        backoff = 0.05
        while (queue or self._in_flight) and time.monotonic() < deadline and self._connected:
            with self._cond:
                self._drain_answers(queue, backoff_s=backoff)
                now = time.monotonic()
                ready = [item for item in queue if item[2] <= now]
                while ready and len(self._in_flight) < self._window and self._connected:
                    item = ready.pop(0)
                    queue.remove(item)
                    self._send_part(item[0], item[1])
                self._cond.wait(timeout=0.05)
            if any(retry_at > time.monotonic() for _p, _i, retry_at in queue):
                backoff = min(2.0, backoff * 2)
        with self._cond:
            self._drain_answers(queue, backoff_s=backoff)
            lost = [pending_item for pending_item, _part in self._in_flight.values()]
            self._in_flight.clear()
        for item in lost:
            item.transient = True
        for item, _part, _at in queue:
            item.transient = True
        return [self._result(p) for p in pending]

    def _send_part(self, item: _Pending, part: int) -> None:
        s = item.submission
        ton, npi = SOURCE_ADDRESSING.get(s.sender_type, (1, 1))
        pdu = smpplib.smpp.make_pdu(
            "submit_sm", client=self._client,
            source_addr_ton=ton, source_addr_npi=npi, source_addr=s.sender_id.lstrip("+"),
            dest_addr_ton=1, dest_addr_npi=1, destination_addr=s.destination.lstrip("+"),
            short_message=item.payloads[part], data_coding=item.data_coding, esm_class=item.esm_class,
            registered_delivery=1,
        )
        self._in_flight[pdu.sequence] = (item, part)
        try:
            self._client.send_pdu(pdu)
        except (smpplib.exceptions.ConnectionError, OSError):
            self._connected = False

    def _drain_answers(self, queue: list[tuple[_Pending, int, float]], backoff_s: float) -> None:
        for sequence, status, provider_id in self._answered:
            found = self._in_flight.pop(sequence, None)
            if found is None:
                continue
            item, part = found
            if status == c.SMPP_ESME_ROK:
                item.ids[part] = provider_id
                self._recent_ids[provider_id] = None
                if len(self._recent_ids) > RECENT_IDS:
                    self._recent_ids.popitem(last=False)
            elif status in THROTTLED:
                queue.append((item, part, time.monotonic() + backoff_s * (1 + random.random())))
            else:
                item.error = status
                item.transient = status in TRANSIENT_ERRORS
        self._answered.clear()

    def _result(self, item: _Pending) -> SubmitResult:
        s = item.submission
        ids = [item.ids[i] for i in sorted(item.ids)]
        if item.error is not None:
            return SubmitResult(s.message_id, False, ids, f"0x{item.error:08X}", item.transient, error_reason(item.error))
        if len(ids) == len(item.payloads):
            return SubmitResult(s.message_id, True, ids)
        return SubmitResult(s.message_id, False, ids, None, True, "no_answer_before_timeout")


def _decode(payload: bytes, data_coding: int) -> str:
    """Text of a deliver_sm: UCS-2 when data_coding says so; receipts and most MO texts are ASCII-compatible otherwise."""
    if data_coding == c.SMPP_ENCODING_ISO10646:
        return payload.decode("utf-16-be", "replace")
    return payload.decode("latin-1")
