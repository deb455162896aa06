"""SMPP 3.4 provider over smpplib: one transceiver bind, windowed asynchronous submit_sm, receipts and inbound back.

Threads: one link thread owns the connection. It connects and binds (bounded retries with backoff),
reads every PDU (submit_sm_resp, deliver_sm, enquire_link…), sends enquire_link every
``enquire_link_s``, and binds again when the link drops. ``submit_many`` runs on the caller's
thread and only sends; answers reach it through a list guarded by a condition. Every send goes
through one lock, and sequence numbers come from one thread-safe generator.

A delivery receipt or inbound message is not answered when it arrives: it goes to its callback with an ``ack``,
and its deliver_sm_resp (status 0) leaves when that ``ack`` is called — by the runtime's thread, once the item is
produced and committed. Until then the SMSC still holds it, so a crash in between costs a redelivery, not the item.
An ``ack`` whose session is gone sends nothing: the SMSC delivers the item again on the next bind.

Session plumbing (bind, sequences, the deliver_sm_resp owed) is in ``session``; the window's bookkeeping in
``window``; PDU fields and texts in ``codec``; what each command_status calls for in ``errors``.
"""
from __future__ import annotations

import itertools
import logging
import random
import select
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Sequence

import smpplib.client
import smpplib.exceptions
import smpplib.smpp

from courrier.logs import mask_phone
from processors.dispatch.provider import DeliveryReport, InboundCallback, ReportCallback, Submission, SubmitResult
from processors.providers.smpp.codec import Unsendable, as_text, encode_message, read_deliver_sm, source_address, submit_id, submit_sm_fields
from processors.providers.smpp.errors import ESME_RINVCMDID, ESME_RX_T_APPN, status_code
from processors.providers.smpp.session import LINK_ERRORS, DeliverSmAnswer, Sequences, break_link, disconnect, open_session
from processors.providers.smpp.window import Job, Pace, Window
from processors.runtime.errors import UnreachableError

log = logging.getLogger(__name__)
WIRE_LOGGER = "processors.providers.smpp.wire"
# smpplib's own client log: DEBUG lines are whole PDUs in hex (phone numbers the log masking cannot see), and its
# warnings repeat socket errors this module already reports.
logging.getLogger(WIRE_LOGGER).setLevel(logging.ERROR)
# smpplib skips TLVs it does not know (as SMPP 3.4 asks) but warns on each; jsmpp adds 0x0428 to every submit_sm_resp.
logging.getLogger("smpplib.command").addFilter(lambda record: not record.getMessage().startswith("Unknown optional parameter"))

MAX_BIND_BACKOFF_S = 5.0
STABLE_SESSION_S = 10.0
CLOSE_GRACE_S = 2.0


class SmppProvider:
    """An SMPP 3.4 ESME bound as transceiver to one SMSC (see the module docstring for its threads).

    ``decimal_receipt_ids``: the SMSC answers submit_sm with hexadecimal ids but writes them in decimal in
    receipt texts (jsmpp's simulator does); every id is then reported in decimal so reports match submits.
    """

    def __init__(self, host: str, port: int, system_id: str, password: str, *, window: int = 10,
                 on_report: ReportCallback, on_inbound: InboundCallback, name: str | None = None,
                 enquire_link_s: float = 30.0, bind_timeout_s: float = 10.0, bind_attempts: int = 5,
                 decimal_receipt_ids: bool = False) -> None:
        if window < 1 or bind_attempts < 1:
            raise ValueError("window and bind_attempts must be at least 1")
        self.name = name or f"smpp:{host}:{port}"
        self._address = (host, port)
        self._credentials = (system_id, password)
        self._window = window
        self._pace = Pace(window)  # shrinks while the SMSC throttles, across runs (``window.Pace``)
        self._on_report = on_report
        self._on_inbound = on_inbound
        self._enquire_link_s = enquire_link_s
        self._bind_timeout_s = bind_timeout_s
        self._bind_attempts = bind_attempts
        self._decimal_ids = decimal_receipt_ids
        self._sequences = Sequences()
        self._references = itertools.count(random.randrange(256))  # concatenation references, distinct per long message
        self._send_lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._cond = threading.Condition()
        # Guarded by _cond: the bound client (None while down), its generation, the link state and unread answers.
        self._client: smpplib.client.Client | None = None
        self._generation = 0
        self._state = "closed"  # closed → connecting → bound ⇄ connecting; unreachable once a round of binds failed
        self._last_error = ""
        self._answers: list[tuple[int, int, str]] = []
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._close_by = 0.0
        self._thread: threading.Thread | None = None

    @property
    def _peer(self) -> str:
        return f"{self._address[0]}:{self._address[1]}"

    # Lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Start the link thread and wait for the first bind; ``UnreachableError`` when a whole round of binds fails."""
        if self._thread is not None:
            return
        self._closing.clear()
        self._wake.clear()
        with self._cond:
            self._state = "connecting"
        self._thread = threading.Thread(target=self._run_link, name=f"smpp-link-{self._peer}", daemon=True)
        self._thread.start()
        budget_s = self._bind_attempts * (2 * self._bind_timeout_s + MAX_BIND_BACKOFF_S)
        with self._cond:
            self._cond.wait_for(lambda: self._state in ("bound", "unreachable"), timeout=budget_s)
            bound, error = self._state == "bound", self._last_error
        if not bound:
            self.close()
            raise UnreachableError(f"SMPP peer {self._peer} did not answer ({error or 'no bind'}); "
                                   "run `courrier infra up smsc` or set COURRIER_SMPP_HOST")

    def close(self) -> None:
        """Unbind, wait briefly for unbind_resp, then disconnect; callbacks stop.

        A deliver_sm arriving meanwhile still reaches its callback; one whose ``ack`` is not called before the link
        closes is delivered again by the SMSC on the next bind.
        """
        thread = self._thread
        if thread is None:
            return
        self._close_by = time.monotonic() + CLOSE_GRACE_S
        self._closing.set()
        self._wake.set()
        with self._cond:
            client = self._client
        if client is not None:
            try:
                self._send(client, smpplib.smpp.make_pdu("unbind", client=client))
            except (*LINK_ERRORS, smpplib.exceptions.PDUError):
                break_link(client)
        thread.join(timeout=CLOSE_GRACE_S + self._bind_timeout_s + 1)
        if thread.is_alive():
            log.warning("SMPP link thread still running after close", extra={"peer": self._peer})
        self._thread = None
        with self._cond:
            self._state = "closed"

    @property
    def ready(self) -> bool:
        """Bound right now: a submit would go out at once (the router sends elsewhere while it is not)."""
        with self._cond:
            return self._client is not None

    def reconnect(self) -> None:
        """Ask the link thread for another round of binds if the last round gave up (no effect while it is trying)."""
        with self._cond:
            self._want_link()

    # Submitting ----------------------------------------------------------------------------------------------

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """Submit every message with at most ``window`` submit_sm outstanding; one final result each, in input order.

        Answers are classed by ``errors``: throttled parts are sent again while time remains, and the window
        shrinks while the SMSC throttles (``Pace``, kept across calls); ESME_RSYSERR and the like make a message
        transient, other refusals permanent. A part whose answer is lost with the link makes its message transient
        ("connection_lost") and is not sent again: the dispatch ledger reconciles it. Every part carries the message's
        validity (``validity_period``), when it has one.
        """
        assert self._thread is not None, "open() first"
        deadline = time.monotonic() + timeout_s
        with self._submit_lock:
            window = Window([self._job(i, s) for i, s in enumerate(submissions)], self._window, self._pace)
            while not window.done() and not self._closing.is_set() and (now := time.monotonic()) < deadline:
                with self._cond:
                    self._absorb(window, now)
                    client, generation = self._client, self._generation
                    if client is None:
                        self._want_link()
                    sends = []
                    while client is not None and (picked := window.next_part(now)) is not None:
                        pdu = self._submit_pdu(client, *picked)
                        window.sent(pdu.sequence, *picked, generation)
                        sends.append(pdu)
                    if not sends and not window.done():
                        wake_at = min(deadline, max(self._pace.paused_until, now + 0.001), now + 1.0)
                        self._cond.wait(timeout=wake_at - now)
                if sends and not self._send_all(client, sends):
                    with self._cond:
                        self._cond.wait_for(lambda: self._generation != generation or self._client is None, timeout=1.0)
            with self._cond:
                self._absorb(window, time.monotonic())
                link_up = self._client is not None
            for sequence, (job, part, _generation) in window.in_flight.items():
                log.info("submit_sm unanswered at the deadline", extra={
                    "peer": self._peer, "sequence": sequence, "message_id": job.submission.message_id, "part": part + 1})
            return window.results(link_up)

    def _job(self, index: int, submission: Submission) -> Job:
        try:
            source = source_address(submission.sender_type, submission.sender_id)
            encoded = encode_message(submission.text, submission.encoding, submission.parts, next(self._references))
        except Unsendable as exc:
            return Job.refused(index, submission, exc.detail)
        return Job.of(index, submission, source, encoded)

    def _submit_pdu(self, client: smpplib.client.Client, job: Job, part: int):
        return smpplib.smpp.make_pdu("submit_sm", client=client, **submit_sm_fields(job.submission, job.source, job.encoded, part))

    def _send_all(self, client: smpplib.client.Client, pdus: list) -> bool:
        """Send in order; on a broken link, stop and let the link thread notice (its parts become lost, not resent)."""
        try:
            for pdu in pdus:
                self._send(client, pdu)
        except LINK_ERRORS as exc:
            log.warning("SMPP send failed", extra={"peer": self._peer, "error": repr(exc)})
            break_link(client)
            return False
        return True

    def _absorb(self, window: Window, now: float) -> None:
        """Apply the answers the link thread posted, then fail the parts of links that are gone (caller holds _cond)."""
        for sequence, status, raw_id in self._answers:
            if not window.answered(sequence, status, submit_id(raw_id, self._decimal_ids), now):
                log.warning("submit_sm answered after its run gave up; the ledger must reconcile it",
                            extra={"peer": self._peer, "sequence": sequence, "status": status_code(status), "provider_id": raw_id})
        self._answers.clear()
        window.link_lost(self._generation if self._client is not None else None)

    def _want_link(self) -> None:
        """Ask the link thread for another round of binds if the last round gave up (caller holds _cond)."""
        if self._state == "unreachable":
            self._state = "connecting"
            self._wake.set()

    # The link thread -----------------------------------------------------------------------------------------

    def _run_link(self) -> None:
        failures = short_sessions = 0
        while not self._closing.is_set():
            try:
                client = self._bind()
            except Exception as exc:  # refused, timed out or garbled: each counts as one failed attempt
                failures += 1
                log.warning("SMPP bind failed", extra={"peer": self._peer, "attempt": failures, "error": repr(exc)})
                with self._cond:
                    self._last_error = repr(exc)
                if failures < self._bind_attempts:
                    self._closing.wait(min(MAX_BIND_BACKOFF_S, 0.5 * 2 ** (failures - 1)))
                    continue
                self._set_state("unreachable")
                self._wake.wait()  # until submit_many wants another round, or close()
                self._wake.clear()
                failures = 0
                continue
            failures = 0
            with self._cond:
                self._client, self._generation, self._state = client, self._generation + 1, "bound"
                self._cond.notify_all()
            log.info("SMPP bound", extra={"peer": self._peer, "generation": self._generation})
            bound_at = time.monotonic()
            try:
                self._read(client)
            except Exception as exc:  # whatever broke the link, the next round binds again
                if not self._closing.is_set():
                    log.warning("SMPP link lost", extra={"peer": self._peer, "error": repr(exc)})
            finally:
                with self._cond:
                    self._client = None
                    self._state = "connecting"
                    self._cond.notify_all()
                disconnect(client)
            # An SMSC that accepts binds but drops them at once must not be rebound in a tight loop.
            short_sessions = short_sessions + 1 if time.monotonic() - bound_at < STABLE_SESSION_S else 0
            if short_sessions:
                self._closing.wait(min(MAX_BIND_BACKOFF_S, 0.25 * 2 ** (short_sessions - 1)))

    def _bind(self) -> smpplib.client.Client:
        return open_session(self._address, self._credentials, self._bind_timeout_s, self._sequences, WIRE_LOGGER)

    def _read(self, client: smpplib.client.Client) -> None:
        """Read and answer PDUs until the link drops, the SMSC unbinds, close() is answered, or enquire_link goes unanswered."""
        sock = client._socket  # smpplib has no public accessor; select() on it lets this loop keep the enquire_link timer
        next_enquire = time.monotonic() + self._enquire_link_s
        awaiting_enquire = False
        while not (self._closing.is_set() and time.monotonic() >= self._close_by):
            now = time.monotonic()
            readable, _, _ = select.select([sock], [], [], max(0.0, min(1.0, next_enquire - now)))
            if readable:
                try:
                    pdu = client.read_pdu()
                except (smpplib.exceptions.PDUError, smpplib.exceptions.UnknownCommandError) as exc:
                    log.warning("unreadable PDU skipped", extra={"peer": self._peer, "error": repr(exc)})
                    continue
                if pdu.command == "enquire_link_resp":
                    awaiting_enquire = False
                elif not self._handle(client, pdu):
                    return
            elif now >= next_enquire:
                if awaiting_enquire:
                    raise smpplib.exceptions.ConnectionError(f"enquire_link unanswered for {self._enquire_link_s:.0f}s")
                self._send(client, smpplib.smpp.make_pdu("enquire_link", client=client))
                awaiting_enquire = True
                next_enquire = now + self._enquire_link_s

    def _handle(self, client: smpplib.client.Client, pdu) -> bool:
        """Act on one PDU; False when the session is over (unbind from the SMSC, or the answer to ours)."""
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            status = int(pdu.status) or (ESME_RINVCMDID if command == "generic_nack" else 0)
            with self._cond:
                self._answers.append((pdu.sequence, status, as_text(getattr(pdu, "message_id", None))))
                self._cond.notify_all()
        elif command == "deliver_sm":
            self._deliver(client, pdu)
        elif command == "enquire_link":
            self._answer(client, "enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            log.warning("SMPP peer unbound", extra={"peer": self._peer})
            self._answer(client, "unbind_resp", pdu.sequence)
            return False
        elif command == "unbind_resp":
            return False
        elif pdu.is_request() and command != "alert_notification":
            self._answer(client, "generic_nack", pdu.sequence, ESME_RINVCMDID)
        return True

    def _deliver(self, client: smpplib.client.Client, pdu) -> None:
        """Hand a deliver_sm to its callback with an ``ack`` that answers it (status 0) later; answer at once what is not
        handed over: a receipt without a message id (0: dropped, the SMSC could only send it again as it is) and an item
        whose callback failed (ESME_RX_T_APPN: the SMSC keeps it and delivers it again)."""
        answer = DeliverSmAnswer(self._answer_deliver, client, pdu.sequence)
        item = read_deliver_sm(pdu, self.name, datetime.now(timezone.utc), self._decimal_ids)
        try:
            if isinstance(item, DeliveryReport):
                self._on_report(replace(item, ack=answer))
            elif item is not None:
                log.info("inbound SMS", extra={"peer": self._peer, "from": mask_phone(item.from_number)})
                self._on_inbound(replace(item, ack=answer))
            else:
                log.warning("delivery receipt without a message id dropped", extra={"peer": self._peer})
                answer.settle(0)
        except Exception:
            log.exception("deliver_sm callback failed", extra={"peer": self._peer})
            answer.settle(ESME_RX_T_APPN)

    def _answer_deliver(self, client: smpplib.client.Client, sequence: int, status: int) -> None:
        """Send one deliver_sm_resp on ``client`` while it is the bound session; from any thread, never raising."""
        with self._cond:
            current = self._client is client
        if not current:
            log.info("deliver_sm left unanswered: its session is gone, the SMSC delivers it again",
                     extra={"peer": self._peer, "sequence": sequence})
            return
        try:
            self._answer(client, "deliver_sm_resp", sequence, status)
        except (*LINK_ERRORS, smpplib.exceptions.PDUError, AttributeError) as exc:  # AttributeError: disconnected meanwhile
            log.info("deliver_sm_resp not sent: the link dropped, the SMSC delivers it again",
                     extra={"peer": self._peer, "sequence": sequence, "error": repr(exc)})
            break_link(client)

    # Plumbing ------------------------------------------------------------------------------------------------

    def _answer(self, client: smpplib.client.Client, command: str, sequence: int, status: int = 0) -> None:
        response = smpplib.smpp.make_pdu(command, client=client, status=status)
        response.sequence = sequence
        self._send(client, response)

    def _send(self, client: smpplib.client.Client, pdu) -> None:
        with self._send_lock:
            client.send_pdu(pdu)

    def _set_state(self, state: str) -> None:
        with self._cond:
            self._state = state
            self._cond.notify_all()
