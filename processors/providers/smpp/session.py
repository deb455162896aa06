"""One SMPP session's plumbing, apart from any thread: connecting (TCP, or TLS over it) and binding as a transceiver,
sequence numbers shared by threads, and the one deliver_sm_resp owed per deliver_sm.

Why no smpplib here: its ``Client`` owns a blocking socket it reads one PDU at a time (two ``recv`` per PDU) and
writes one ``sendall`` per PDU, and offers no public way to select on that socket, batch writes or read what is
already buffered. The link (``link``) needs all three to run at the speed of the wire, so Courrier owns the socket
and the framing (``pdu``); the PDUs it speaks are few and fixed by SMPP 3.4.
"""
from __future__ import annotations

import socket
import ssl
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Callable

from processors.providers.smpp import pdu
from processors.providers.smpp.errors import status_name

# Credentials the SMSC refused (SMPP 3.4 table 5-2): binding again will not help until someone changes a setting.
CREDENTIAL_REFUSALS = frozenset({0x0D, 0x0E, 0x0F})  # ESME_RBINDFAIL, ESME_RINVPASWD, ESME_RINVSYSID


class Sequences:
    """Sequence numbers 1..0x7FFFFFFF (SMPP 3.4 §3.2), wrapping, safe to draw from several threads at once."""

    MAX = 0x7FFFFFFF

    def __init__(self, start: int = 0) -> None:
        self._last = start
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = self._last % self.MAX + 1
            return self._last


class BindRefused(ConnectionError):
    """The SMSC answered our bind_transceiver with a non-zero command_status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {status_name(status)}")
        self.status = status

    @property
    def credentials(self) -> bool:
        """The system_id or password is wrong (or the account may not bind): a setting to fix, not a network fault."""
        return self.status in CREDENTIAL_REFUSALS


@dataclass(frozen=True)
class Peer:
    """Where one bind goes and who it says it is. ``tls``: the context to wrap the connection in, None for plain TCP;
    ``server_name`` is the name its certificate must carry (the host, unless the settings say otherwise)."""

    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    tls: ssl.SSLContext | None = None
    server_name: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Session:
    """A bound connection, with what arrived behind the bind's answer (an SMSC may send stored receipts at once):
    whole PDUs in ``early``, the start of the next one in ``buffer``."""

    sock: socket.socket
    early: list[pdu.Pdu]
    buffer: bytearray


def open_session(peer: Peer, timeout_s: float, sequences: Sequences, command_id: int = pdu.BIND_TRANSCEIVER) -> Session:
    """Connect, wrap in TLS when the peer asks for it, and bind as transceiver (or as ``command_id`` says), all within
    ``timeout_s`` per step.

    ``BindRefused`` when the SMSC says no; any other failure is an ``OSError`` (refused, timed out, certificate
    rejected, closed). On failure the socket is closed before the error goes up (a half-open session would hold one
    of the SMSC's bind slots)."""
    sock = socket.create_connection((peer.host, peer.port), timeout=timeout_s)
    try:
        # One small PDU often waits for the answer to the last one (an OTP's submit_sm after a deliver_sm_resp):
        # with Nagle's algorithm it would wait for the peer's delayed ACK (~40 ms) instead.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if peer.tls is not None:
            sock = peer.tls.wrap_socket(sock, server_hostname=peer.server_name or peer.host)
        sequence = sequences.next()
        sock.sendall(pdu.bind(sequence, peer.system_id, peer.password, peer.system_type, command_id))
        pending = bytearray()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the SMSC before answering the bind")
            pending += chunk
            answers = pdu.split(pending)
            answer = next((p for p in answers if p.sequence == sequence and not p.is_request), None)
            if answer is not None:
                break
            if answers:
                raise ConnectionError(f"unexpected PDU 0x{answers[0].command_id:08X} before the bind's answer")
        if answer.status:
            raise BindRefused(answer.status)
        if answer.command_id != command_id | pdu.RESPONSE:
            raise ConnectionError(f"bind answered by PDU 0x{answer.command_id:08X}")
        return Session(sock, answers[answers.index(answer) + 1:], pending)
    except BaseException:
        close_quietly(sock)
        raise


def close_quietly(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.close()


class DeliverSmAnswer:
    """The one deliver_sm_resp owed for one deliver_sm.

    Calling it (the item's ``ack``) answers status 0; ``settle`` answers another status. Only the first of these
    sends anything, whichever thread calls it, so a callback that failed after keeping the item cannot also ack it.
    ``send(status)`` does the sending, on the session the deliver_sm came on (the provider's, which knows whether that
    session is still there).
    """

    def __init__(self, send: Callable[[int], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._settled = False

    def __call__(self) -> None:
        self.settle(0)

    def settle(self, status: int) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        self._send(status)
