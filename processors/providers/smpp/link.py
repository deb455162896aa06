"""One bind: its connection and the one thread that owns it, binding again when it drops.

The thread connects and binds (bounded rounds of attempts with backoff; ``session``), then runs one selector loop
over the socket and a wake-up pipe until the session ends. Each wake it reads everything the socket has and cuts
every complete PDU out of it at once (``pdu.split``); it gives the sink all the submit_sm answers of that read in one
call, asks it to fill this bind's window again (``fill``: the submit_sm that now have room) and writes them in one
``send`` — before it hands the read's deliver_sm to the sink, so the SMSC works on the next window while receipts are
read; it answers enquire_link and unbind. A window is thus refilled on the thread its answers woke, with no hand-off
to the thread that called ``submit_many`` (which only waits for the run's end). Other threads never touch the
socket: ``send`` queues bytes (``outbox``) and wakes the loop, ``kick`` wakes it to fill — which is also what TLS
needs: an SSL object must not be read and written from two threads at once.

Nothing queued is lost silently: when a session ends, the submit_sm whose bytes never reached the socket are given
to the sink as withdrawn (they cannot have reached the SMSC, so they may be sent again); the others lost their answers.
"""
from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter

from processors.providers.smpp import pdu
from processors.providers.smpp.errors import ESME_RINVCMDID, ESME_RX_P_APPN
from processors.providers.smpp.outbox import WANT, Outbox
from processors.providers.smpp.session import BindRefused, Peer, Sequences, Session, close_quietly, open_session
from processors.providers.smpp.window import LinkKey

log = logging.getLogger(__name__)

MAX_BIND_BACKOFF_S = 5.0
STABLE_SESSION_S = 10.0
READ_OCTETS = 256 * 1024

# In the default registry, once per process (several providers may share a test process).
BIND_REFUSED = Counter("courrier_smpp_bind_refused", "SMPP binds the SMSC refused, by provider and command status",
                       ["provider", "status"])


class Sink(Protocol):
    """What a link works for (the provider): every link's state is read and changed under ``cond``, whose
    ``notify_all`` announces each change."""

    cond: threading.Condition

    def answered(self, link: Link, answers: list[tuple[int, int, str]], now: float) -> None:
        """The submit_sm answers ``(sequence, command_status, message_id)`` of one read."""

    def fill(self, link: Link, generation: int, now: float) -> tuple[bytes, float | None]:
        """The submit_sm this bind's window has room for now, and when to ask again if it is paused (else None)."""

    def ended(self, link: Link, withdrawn: list[int]) -> None:
        """A session ended (the link's state already says so); ``withdrawn``: its submit_sm that never left."""

    def deliver(self, link: Link, generation: int, sequence: int, message: pdu.ShortMessage) -> None:
        """A deliver_sm, owed one deliver_sm_resp on session ``generation``."""


@dataclass(frozen=True)
class Timing:
    """How a link keeps itself alive: enquire_link period, one bind step's timeout, attempts per round of binds."""

    enquire_link_s: float = 30.0
    bind_timeout_s: float = 10.0
    bind_attempts: int = 5


class Link:
    """One transceiver bind to ``peer``; its state is read and changed under ``sink.cond``.

    States: ``closed`` → ``connecting`` → ``bound`` ⇄ ``connecting``; ``unreachable`` once a round of binds failed
    (at once when the SMSC refused the credentials: binding again cannot help), until ``want()``."""

    def __init__(self, index: int, peer: Peer, timing: Timing, sequences: Sequences, sink: Sink, provider: str) -> None:
        self.index = index
        self.peer = peer
        self._timing = timing
        self._sequences = sequences
        self._sink = sink
        self._cond = sink.cond
        self._provider = provider
        self._log = {"provider": provider, "peer": peer.address, "bind": index}
        # Guarded by sink.cond.
        self.state = "closed"
        self.generation = 0
        self.last_error = ""
        self.credentials_refused = False
        self._outbox = Outbox(peer.tls is not None)
        self._awaiting_enquire = False
        self._closing = threading.Event()
        self._round = threading.Event()
        self._close_by = 0.0
        self._thread: threading.Thread | None = None

    # Called by the provider ---------------------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            self.state = "connecting"
        self._thread = threading.Thread(target=self._run, name=f"smpp-{self.peer.address}-{self.index}", daemon=True)
        self._thread.start()

    def live(self) -> int | None:
        """The generation of the bound session, None while there is none (caller holds ``sink.cond``)."""
        return self.generation if self.state == "bound" else None

    def want(self) -> None:
        """Start another round of binds if the last one gave up (caller holds ``sink.cond``)."""
        if self.state == "unreachable":
            self.state = "connecting"
            self._round.set()

    def send(self, data: bytes, generation: int) -> bool:
        """Queue ``data`` (whole PDUs) for session ``generation``; False when that session is over (nothing is sent)."""
        return self._outbox.put(data, generation, wake=threading.current_thread() is not self._thread)

    def kick(self) -> None:
        """Wake the loop to fill this bind's window (a run began, or parts came back to be sent)."""
        if threading.current_thread() is not self._thread:
            self._outbox.wake()

    def stop(self, grace_s: float) -> None:
        """Ask the loop to unbind (waiting up to ``grace_s`` for unbind_resp) and end."""
        self._close_by = time.monotonic() + grace_s
        self._closing.set()
        self._round.set()
        self._outbox.wake()

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread; True once it ended (the wake-up pipe is then closed)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return False
        self._outbox.dispose()
        return True

    # The thread ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = short_sessions = 0
        while not self._closing.is_set():
            try:
                session = open_session(self.peer, self._timing.bind_timeout_s, self._sequences)
            except Exception as exc:  # refused, timed out, garbled or a certificate refused: one failed attempt each
                failures += 1
                if not self._bind_failed(exc, failures):
                    self._closing.wait(min(MAX_BIND_BACKOFF_S, 0.5 * 2 ** (failures - 1)))
                    continue
                self._round.wait()  # until the provider wants another round, or stop()
                self._round.clear()
                failures = 0
                continue
            failures = 0
            bound_at = time.monotonic()
            self._serve_session(session)
            # An SMSC that accepts binds but drops them at once must not be rebound in a tight loop.
            short_sessions = short_sessions + 1 if time.monotonic() - bound_at < STABLE_SESSION_S else 0
            if short_sessions:
                self._closing.wait(min(MAX_BIND_BACKOFF_S, 0.25 * 2 ** (short_sessions - 1)))
        with self._cond:
            self.state = "closed"
            self._cond.notify_all()

    def _bind_failed(self, exc: Exception, failures: int) -> bool:
        """Record one failed bind; True when the round is over (the link is then unreachable until ``want()``)."""
        refused = isinstance(exc, BindRefused)
        credentials = refused and exc.credentials  # type: ignore[union-attr]
        if refused:
            BIND_REFUSED.labels(self._provider, f"0x{exc.status:08X}").inc()  # type: ignore[union-attr]
        with self._cond:
            first = credentials and not self.credentials_refused
            self.credentials_refused = credentials
            self.last_error = str(exc) if refused else f"{type(exc).__name__}: {exc}"
            over = credentials or failures >= self._timing.bind_attempts or self._closing.is_set()
            if over and not self._closing.is_set():
                self.state = "unreachable"
            self._cond.notify_all()
        if first:
            log.error("the SMSC refused the bind; nothing is sent through it until the account (system_id and password: "
                      "COURRIER_SMPP_SYSTEM_ID, COURRIER_SMPP_PASSWORD or the provider's options) or its bind limit is fixed",
                      extra={**self._log, "error": str(exc)})
        elif not credentials:
            log.warning("SMPP bind failed", extra={**self._log, "attempt": failures, "error": repr(exc)})
        return over

    def _serve_session(self, session: Session) -> None:
        with self._cond:
            self.generation += 1
            generation = self.generation
            self.state = "bound"
            self.credentials_refused = False
            self._cond.notify_all()
        self._outbox.open(generation)
        self._awaiting_enquire = False
        log.info("SMPP bound", extra={**self._log, "generation": generation, "tls": self.peer.tls is not None})
        try:
            self._serve(session, (self.index, generation))
        except Exception as exc:  # whatever broke the link, the next round binds again
            if not self._closing.is_set():
                log.warning("SMPP link lost", extra={**self._log, "error": repr(exc)})
        finally:
            withdrawn = self._outbox.close()
            with self._cond:
                self.state = "connecting"
                self._sink.ended(self, withdrawn)
                self._cond.notify_all()
            close_quietly(session.sock)

    def _serve(self, session: Session, key: LinkKey) -> None:
        """Read, answer and write until the session ends: unbind either way, end of stream, enquire_link unanswered,
        or the close grace spent."""
        sock, inbound = session.sock, session.buffer
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._outbox.wake_socket, selectors.EVENT_READ)
            writing = unbinding = False
            over = self._handle(session.early, key, sock)
            next_enquire = time.monotonic() + self._timing.enquire_link_s
            while not over:
                now = time.monotonic()
                retry_at = None
                if self._closing.is_set():
                    if now >= self._close_by:
                        return
                    if not unbinding:
                        unbinding = self.send(pdu.frame(pdu.UNBIND, self._sequences.next()), key[1])
                else:
                    retry_at = self._refill(key, now)
                pending = self._outbox.flush(sock)
                if pending != writing:
                    selector.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0))
                    writing = pending
                timeout = min(1.0, next_enquire - now, self._close_by - now if self._closing.is_set() else 1.0,
                              retry_at - now if retry_at is not None else 1.0)
                for selected, _mask in selector.select(max(0.0, timeout)):
                    if selected.fileobj is self._outbox.wake_socket:
                        self._outbox.drain_wake()
                    elif not self._receive(sock, inbound):
                        if unbinding:
                            return
                        raise ConnectionError("closed by the SMSC")
                    else:
                        over = self._handle(pdu.split(inbound), key, sock)
                now = time.monotonic()
                if now >= next_enquire:
                    if self._awaiting_enquire:
                        raise ConnectionError(f"enquire_link unanswered for {self._timing.enquire_link_s:.0f}s")
                    self.send(pdu.frame(pdu.ENQUIRE_LINK, self._sequences.next()), key[1])
                    self._awaiting_enquire = True
                    next_enquire = now + self._timing.enquire_link_s
            self._outbox.flush_before_close(sock)

    def _refill(self, key: LinkKey, now: float) -> float | None:
        """Queue what the window has room for; when to look again while the bind is paused (else None)."""
        submits, retry_at = self._sink.fill(self, key[1], now)
        if submits:
            self.send(submits, key[1])
        return retry_at

    def _handle(self, pdus: list[pdu.Pdu], key: LinkKey, sock: socket.socket) -> bool:
        """Act on the PDUs of one read; True when the session is over (unbind from the SMSC, or the answer to ours).

        The submit_sm answers go first, and the window's next submit_sm are written before any deliver_sm is read:
        the SMSC works on them while receipts are handled."""
        answers: list[tuple[int, int, str]] = []
        delivers: list[pdu.Pdu] = []
        over = False
        for p in pdus:
            command = p.command_id
            if command == pdu.SUBMIT_SM_RESP or command == pdu.GENERIC_NACK:
                status = p.status or (ESME_RINVCMDID if command == pdu.GENERIC_NACK else 0)
                try:
                    answers.append((p.sequence, status, pdu.message_id(p.body) if command == pdu.SUBMIT_SM_RESP else ""))
                except pdu.BodyError as exc:  # its part stays unanswered: an unknown outcome, never resent
                    log.warning("unreadable submit_sm_resp skipped", extra={**self._log, "sequence": p.sequence, "error": str(exc)})
            elif command == pdu.DELIVER_SM:
                delivers.append(p)
            elif command == pdu.ENQUIRE_LINK:
                self.send(pdu.response(pdu.ENQUIRE_LINK_RESP, p.sequence), key[1])
            elif command == pdu.ENQUIRE_LINK_RESP:
                self._awaiting_enquire = False
            elif command == pdu.UNBIND:
                log.warning("SMPP peer unbound", extra=self._log)
                self.send(pdu.response(pdu.UNBIND_RESP, p.sequence), key[1])
                over = True
            elif command == pdu.UNBIND_RESP:
                over = True
            elif p.is_request and command != pdu.ALERT_NOTIFICATION:
                self.send(pdu.response(pdu.GENERIC_NACK, p.sequence, ESME_RINVCMDID), key[1])
        if answers:
            now = time.monotonic()
            self._sink.answered(self, answers, now)
            if not self._closing.is_set():
                self._refill(key, now)
                self._outbox.flush(sock)
        for p in delivers:
            self._deliver(p, key)
        return over

    def _deliver(self, p: pdu.Pdu, key: LinkKey) -> None:
        try:
            message = pdu.parse_short_message(p.body)
        except pdu.BodyError as exc:
            # Unreadable now is unreadable on every redelivery: refuse it for good rather than have it come back forever.
            log.warning("unreadable deliver_sm refused", extra={**self._log, "sequence": p.sequence, "error": str(exc)})
            self.send(pdu.response(pdu.DELIVER_SM_RESP, p.sequence, ESME_RX_P_APPN), key[1])
            return
        self._sink.deliver(self, key[1], p.sequence, message)

    # Socket plumbing ----------------------------------------------------------------------------------------

    def _receive(self, sock: socket.socket, inbound: bytearray) -> bool:
        """Append what the socket has to ``inbound``; False at end of stream."""
        while True:
            try:
                chunk = sock.recv(READ_OCTETS)
            except WANT:
                return True
            if not chunk:
                return False
            inbound += chunk
            # TLS: a record already decrypted is not seen by select(), so read until the layer says it has nothing.
            if self.peer.tls is None and len(chunk) < READ_OCTETS:
                return True
