"""The SMPP provider's link handling against a scripted in-process SMSC: what goes on the wire, throttling,
refusals, lost answers, enquire_link, unbind, receipts and bind failures — cases jsmpp's simulator cannot be made to show.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timezone
from collections.abc import Callable, Iterator

import pytest
import smpplib.client
import smpplib.smpp

from common.errors import UnreachableError
from processors.dispatch.provider import Submission
from processors.providers.smpp.adapter import SmppProvider
from tests.processors.dispatch.dispatch_broker import Received

SILENT, DROP = "silent", "drop"
NUMBERS = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)  # never connected: numbers the fake's PDUs


def read_pdu(conn: socket.socket):
    """One PDU from ``conn``, or None at end of stream."""
    header = b""
    while len(header) < 4:
        chunk = conn.recv(4 - len(header))
        if not chunk:
            return None
        header += chunk
    (length,) = struct.unpack(">L", header)
    body = b""
    while len(body) < length - 4:
        chunk = conn.recv(length - 4 - len(body))
        if not chunk:
            return None
        body += chunk
    return smpplib.smpp.parse_pdu(header + body, client=NUMBERS, allow_unknown_opt_params=True)


class FakeSmsc:
    """A scripted SMSC on a loopback port. ``reply(n, pdu)`` answers the n-th submit_sm (from 0): a command_status,
    SILENT (no answer) or DROP (close the connection unanswered). What the ESME sends is recorded."""

    def __init__(self, reply: Callable[[int, object], int | str] = lambda n, pdu: 0, bind_status: int = 0,
                 answer_enquire: bool = True) -> None:
        self.reply, self.bind_status, self.answer_enquire = reply, bind_status, answer_enquire
        self.submits: list = []
        self.responses: list[tuple[str, int]] = []
        self.binds = self.enquires = self.unbinds = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def texts(self) -> list[str]:
        return [bytes(p.short_message).decode("latin-1") for p in self.submits]

    def send(self, command: str, **fields) -> None:
        """Send a request (deliver_sm, unbind…) to the ESME on the latest connection."""
        self._conns[-1].sendall(smpplib.smpp.make_pdu(command, client=NUMBERS, **fields).generate())

    def close(self) -> None:
        with suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not stop it listening
        self._server.close()
        for conn in self._conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while True:
            try:
                conn, _address = self._server.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket, command: str, sequence: int, status: int = 0, **fields) -> None:
        pdu = smpplib.smpp.make_pdu(command, client=NUMBERS, status=status, **fields)
        pdu.sequence = sequence
        conn.sendall(pdu.generate())

    def _serve(self, conn: socket.socket) -> None:
        with conn, suppress(OSError):
            while (pdu := read_pdu(conn)) is not None:
                if pdu.command == "bind_transceiver":
                    self.binds += 1
                    self._answer(conn, "bind_transceiver_resp", pdu.sequence, self.bind_status, system_id="fake")
                elif pdu.command == "submit_sm":
                    n = len(self.submits)
                    self.submits.append(pdu)
                    action = self.reply(n, pdu)
                    if action == DROP:
                        return
                    if action != SILENT:
                        self._answer(conn, "submit_sm_resp", pdu.sequence, action, message_id=f"{n + 1:x}" if action == 0 else "")
                elif pdu.command == "enquire_link":
                    self.enquires += 1
                    if self.answer_enquire:
                        self._answer(conn, "enquire_link_resp", pdu.sequence)
                elif pdu.command == "unbind":
                    self.unbinds += 1
                    self._answer(conn, "unbind_resp", pdu.sequence)
                    return
                else:
                    self.responses.append((pdu.command, int(pdu.status)))


def wait_until(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def connect(received: Received) -> Iterator[Callable[..., SmppProvider]]:
    opened: list[tuple[SmppProvider, FakeSmsc]] = []

    def _connect(smsc: FakeSmsc, **options) -> SmppProvider:
        provider = SmppProvider("127.0.0.1", smsc.port, "j", "jpwd", on_report=received.report,
                                on_inbound=received.take, **{"bind_attempts": 2, **options})
        opened.append((provider, smsc))
        provider.open()
        return provider

    yield _connect
    for provider, smsc in opened:
        provider.close()
        smsc.close()


def sms(message_id: str, destination: str = "+33612345678", text: str = "hello", sender_type: str = "LONG_CODE",
        sender_id: str = "+33757000101", encoding: str = "GSM7") -> Submission:
    return Submission(message_id, sender_id, sender_type, destination, text, encoding)


def test_what_goes_on_the_wire(connect) -> None:
    smsc = FakeSmsc()
    provider = connect(smsc)
    results = provider.submit_many([sms("a", sender_type="ALPHANUMERIC", sender_id="COURRIER"),
                                    sms("b", "+33612345679", "€" * 90, "SHORT_CODE", "38383"),
                                    sms("c", "+33612345670", "Привет", encoding="UCS2")])
    assert [r.provider_message_ids for r in results] == [["1"], ["2", "3"], ["4"]]
    alpha, long_1, _long_2, ucs2 = smsc.submits
    assert (alpha.source_addr_ton, alpha.source_addr_npi, alpha.source_addr) == (5, 0, b"COURRIER")
    assert (alpha.dest_addr_ton, alpha.dest_addr_npi, alpha.destination_addr) == (1, 1, b"33612345678")
    assert (long_1.source_addr_ton, long_1.source_addr_npi, long_1.esm_class, long_1.data_coding) == (3, 0, 0x40, 0)
    assert long_1.short_message[:3] == b"\x05\x00\x03" and len(long_1.short_message) == 6 + 152  # 76 '€' of 2 septets
    assert (ucs2.source_addr_ton, ucs2.source_addr, ucs2.data_coding) == (1, b"33757000101", 8)
    assert all(p.registered_delivery == 1 for p in smsc.submits)


def test_throttling_is_waited_out_without_reordering_a_recipients_messages(connect) -> None:
    smsc = FakeSmsc(reply=lambda n, pdu: 0x58 if n in (0, 1) else 0)
    results = connect(smsc, window=10).submit_many([sms("a", text="first"), sms("b", text="second"), sms("c", text="third")])
    assert all(r.accepted for r in results)
    assert smsc.texts() == ["first", "first", "first", "second", "third"]


def test_throttled_until_the_deadline_is_transient(connect) -> None:
    smsc = FakeSmsc(reply=lambda n, pdu: 0x58)
    [result] = connect(smsc).submit_many([sms("a")], timeout_s=1.0)
    assert (result.accepted, result.transient, result.error_code, result.detail) == (False, True, "0x00000058", "ESME_RTHROTTLED")
    assert len(smsc.submits) > 1


def test_a_refused_submit_is_permanent_with_a_normalized_reason(connect) -> None:
    smsc = FakeSmsc(reply=lambda n, pdu: 0x0B if pdu.destination_addr == b"33600000000" else 0)
    refused, accepted = connect(smsc).submit_many([sms("a", "+33600000000"), sms("b")])
    assert (refused.accepted, refused.transient, refused.error_code, refused.detail) == (
        False, False, "0x0000000B", "ESME_RINVDSTADR")
    assert accepted.accepted


def test_every_part_carries_the_validity(connect) -> None:
    smsc = FakeSmsc()
    expires_at = datetime(2026, 11, 23, 8, 10, tzinfo=timezone.utc)
    [result] = connect(smsc).submit_many([replace(sms("a", text="x" * 200), expires_at=expires_at)])
    assert result.accepted and [p.validity_period for p in smsc.submits] == [b"261123081000000+"] * 2


def test_a_system_error_is_transient_and_submitted_once(connect) -> None:
    smsc = FakeSmsc(reply=lambda n, pdu: 0x08 if n == 0 else 0)
    failed, accepted = connect(smsc).submit_many([sms("a", "+33612345671", "one"), sms("b", "+33612345672", "two")])
    assert (failed.accepted, failed.transient, failed.error_code, failed.detail) == (False, True, "0x00000008", "ESME_RSYSERR")
    assert accepted.accepted and smsc.texts() == ["one", "two"]  # retried later through the retry topic, not here


def test_an_answer_lost_with_the_link_is_transient_and_not_resubmitted(connect) -> None:
    smsc = FakeSmsc(reply=lambda n, pdu: DROP if n == 1 else 0)
    results = connect(smsc, window=1).submit_many([sms("a", "+33612345671", "one"), sms("b", "+33612345672", "two"),
                                                   sms("c", "+33612345673", "three")], timeout_s=10)
    assert [(r.accepted, r.transient, r.detail) for r in results] == [
        (True, False, None), (False, True, "connection_lost"), (True, False, None)]
    assert smsc.texts() == ["one", "two", "three"] and smsc.binds == 2


def test_enquire_link_keeps_the_link_and_silence_breaks_it(connect) -> None:
    alive = FakeSmsc()
    connect(alive, enquire_link_s=0.1)
    assert wait_until(lambda: alive.enquires >= 3) and alive.binds == 1
    silent = FakeSmsc(answer_enquire=False)
    connect(silent, enquire_link_s=0.1)
    assert wait_until(lambda: silent.binds >= 2)


def test_receipts_and_inbound_reach_their_callbacks_and_are_answered(connect, received: Received) -> None:
    smsc = FakeSmsc()
    connect(smsc, decimal_receipt_ids=True)
    smsc.send("deliver_sm", esm_class=0x04, source_addr="33612345678", destination_addr="38383",
              short_message=b"id:26 sub:001 dlvrd:001 submit date:2611230819 done date:2611230819 stat:DELIVRD err:000 text:")
    smsc.send("deliver_sm", source_addr_ton=1, source_addr="33612345678", destination_addr="38383", short_message=b"STOP")
    assert wait_until(lambda: len(smsc.responses) == 2)
    assert smsc.responses == [("deliver_sm_resp", 0), ("deliver_sm_resp", 0)]
    assert [(r.provider_message_id, r.raw_status) for r in received.reports] == [("26", "DELIVRD")]
    assert [(m.from_number, m.to_sender, m.text) for m in received.inbound] == [("+33612345678", "38383", "STOP")]


def test_a_failing_callback_asks_the_smsc_to_deliver_again() -> None:
    smsc = FakeSmsc()
    provider = SmppProvider("127.0.0.1", smsc.port, "j", "jpwd", on_report=lambda r: 1 / 0, on_inbound=lambda m: None)
    provider.open()
    try:
        smsc.send("deliver_sm", esm_class=0x04, short_message=b"id:7 stat:DELIVRD err:000")
        assert wait_until(lambda: smsc.responses == [("deliver_sm_resp", 0x64)])
    finally:
        provider.close()
        smsc.close()


def test_an_unbind_from_the_smsc_is_answered_and_followed_by_a_new_bind(connect) -> None:
    smsc = FakeSmsc()
    provider = connect(smsc)
    smsc.send("unbind")
    assert wait_until(lambda: smsc.binds == 2)
    assert ("unbind_resp", 0) in smsc.responses
    assert provider.submit_many([sms("a")])[0].accepted


def test_close_unbinds(connect) -> None:
    smsc = FakeSmsc()
    connect(smsc).close()
    assert smsc.unbinds == 1


def test_refused_credentials_are_unreachable_at_once_with_the_reason() -> None:
    smsc = FakeSmsc(bind_status=0x0E)
    provider = SmppProvider("127.0.0.1", smsc.port, "j", "wrong", on_report=print, on_inbound=print, bind_attempts=3)
    try:
        with pytest.raises(UnreachableError, match=f"127.0.0.1:{smsc.port}.*ESME_RINVPASWD.*courrier infra up smsc"):
            provider.open()
        assert smsc.binds == 1  # binding again with the same password cannot help
    finally:
        smsc.close()


def test_nothing_listening_is_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    provider = SmppProvider("127.0.0.1", port, "j", "jpwd", on_report=print, on_inbound=print, bind_attempts=2)
    with pytest.raises(UnreachableError, match=f"SMPP peer 127.0.0.1:{port} did not answer"):
        provider.open()


def test_without_a_link_submissions_are_transient(connect, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="processors.providers.smpp.adapter")  # whatever level an earlier test left it at
    smsc = FakeSmsc()
    provider = connect(smsc)
    smsc.close()
    assert wait_until(lambda: "SMPP link lost" in caplog.text)
    [result] = provider.submit_many([sms("a")], timeout_s=0.5)
    assert (result.accepted, result.transient, result.detail) == (False, True, "not_bound")
