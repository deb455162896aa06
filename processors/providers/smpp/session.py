"""One SMPP session's plumbing, apart from the provider's threads: opening a bound transceiver session, sequence
numbers shared by two threads, the one deliver_sm_resp owed per deliver_sm, and ending a session.
"""
from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Callable

import smpplib.client
import smpplib.exceptions

LINK_ERRORS = (smpplib.exceptions.ConnectionError, OSError)


class Sequences(smpplib.client.SimpleSequenceGenerator):
    """smpplib's sequence numbers, safe to draw from the link thread and the submitting thread at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def next_sequence(self) -> int:
        with self._lock:
            return super().next_sequence()


class DeliverSmAnswer:
    """The one deliver_sm_resp owed for one deliver_sm, on the session it came on.

    Calling it (the item's ``ack``) answers status 0; ``settle`` answers another status. Only the first of these
    sends anything, whichever thread calls it, so a callback that failed after keeping the item cannot also ack it.
    ``send(client, sequence, status)`` does the sending (the provider's, which knows whether the session is current).
    """

    def __init__(self, send: Callable[[smpplib.client.Client, int, int], None], client: smpplib.client.Client,
                 sequence: int) -> None:
        self._send = send
        self._client = client
        self._sequence = sequence
        self._lock = threading.Lock()
        self._settled = False

    def __call__(self) -> None:
        self.settle(0)

    def settle(self, status: int) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        self._send(self._client, self._sequence, status)


def open_session(address: tuple[str, int], credentials: tuple[str, str], timeout_s: float, sequences: Sequences,
                 logger_name: str) -> smpplib.client.Client:
    """Connect and bind as transceiver; on any failure the socket is closed before the error goes up."""
    client = smpplib.client.Client(*address, timeout=timeout_s, sequence_generator=sequences, logger_name=logger_name,
                                   allow_unknown_opt_params=True)
    try:
        client.connect()
        # One small PDU often waits for the answer to the last one (an OTP's submit_sm after a deliver_sm_resp):
        # with Nagle's algorithm it would wait for the peer's delayed ACK (~40 ms) instead.
        client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        system_id, password = credentials
        client.bind_transceiver(system_id=system_id, password=password)
    except BaseException:
        disconnect(client)  # a half-open session would hold one of the SMSC's bind slots
        raise
    return client


def break_link(client: smpplib.client.Client) -> None:
    """Wake the link thread's select() with an end of stream: it then rebinds (or stops, when closing)."""
    with suppress(OSError, AttributeError):
        client._socket.shutdown(socket.SHUT_RDWR)


def disconnect(client: smpplib.client.Client) -> None:
    with suppress(OSError):
        client.disconnect()
