"""SMPP 3.4 as a dispatch provider: one or more transceiver binds, windowed submit_sm, receipts and inbound back.

Each bind is a ``link.Link``: one thread owns its socket (plain TCP or TLS) and runs one selector loop, reading every
PDU that arrived per wake and writing every PDU queued per write. ``submit_many`` encodes its messages on the
caller's thread into one run (``window.Window``, one ``Pace`` per bind, kept across calls), wakes the links and waits
for the run's end; each link applies the answers it reads to the run and refills its own bind's window in the same
wake (``answered``, ``fill``), so the round trip is the SMSC's and one thread's, not a hand-off per window. Several
binds to one SMSC (or to several of its hosts) multiply the outstanding submit_sm; a message's parts may go out on
any of them.

A delivery receipt or inbound message is not answered when it arrives: it goes to its callback with an ``ack``,
and its deliver_sm_resp (status 0) leaves when that ``ack`` is called — by the runtime's thread, once the item is
produced and committed. Until then the SMSC still holds it, so a crash in between costs a redelivery, not the item.
An ``ack`` whose session is gone sends nothing: the SMSC delivers the item again on the next bind.

An SMSC refusing our credentials at bind time is logged once (an error naming the settings) and counted
(``courrier_smpp_bind_refused``); that bind then stays down until ``reconnect()`` (the router's half-open breaker),
and messages meanwhile are transient ``provider_auth_failed``, which the router counts against this provider.

The wire is ``pdu`` (framing and bodies, our own: see ``session`` for why not smpplib), sessions ``session``, PDU
fields and texts ``codec``, what each command_status calls for ``errors``.
"""
from __future__ import annotations

import itertools
import logging
import random
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial

from common.errors import UnreachableError
from common.logs import mask_phone
from processors.dispatch.provider import DeliveryReport, InboundCallback, ReportCallback, Submission, SubmitResult
from processors.providers.smpp import pdu
from processors.providers.smpp.codec import Unsendable, encode_message, read_deliver_sm, source_address, submit_id, submit_sm
from processors.providers.smpp.errors import ESME_RX_T_APPN, NOT_BOUND, PROVIDER_AUTH_FAILED, status_code
from processors.providers.smpp.link import MAX_BIND_BACKOFF_S, Link, Timing
from processors.providers.smpp.session import DeliverSmAnswer, Peer, Sequences
from processors.providers.smpp.window import Job, Pace, Window

log = logging.getLogger(__name__)

CLOSE_GRACE_S = 2.0


@dataclass(frozen=True)
class BindPlan:
    """One bind of a provider: where it goes and its window; None takes the provider's own."""

    host: str | None = None
    port: int | None = None
    window: int | None = None


class SmppProvider:
    """An SMPP 3.4 ESME bound as transceiver to one SMSC through ``binds`` connections (see the module docstring).

    ``binds``: how many binds to ``host:port``, or one ``BindPlan`` each. ``tls``: wrap every connection in it (the
    certificate must name ``server_name``, else the bind's host). ``throttle_resends``: a part throttled more often
    than this ends its message transient (None: resent while the call's time remains). ``decimal_receipt_ids``: the
    SMSC answers submit_sm with hexadecimal ids but writes them in decimal in receipt texts (jsmpp's simulator does);
    every id is then reported in decimal so reports match submits.
    """

    def __init__(self, host: str, port: int, system_id: str, password: str, *, window: int = 10,
                 on_report: ReportCallback, on_inbound: InboundCallback, name: str | None = None,
                 binds: int | Sequence[BindPlan] = 1, tls: ssl.SSLContext | None = None, server_name: str | None = None,
                 system_type: str = "", enquire_link_s: float = 30.0, bind_timeout_s: float = 10.0, bind_attempts: int = 5,
                 decimal_receipt_ids: bool = False, throttle_resends: int | None = None) -> None:
        plans = [BindPlan()] * binds if isinstance(binds, int) else list(binds)
        if window < 1 or bind_attempts < 1 or not plans or any(p.window is not None and p.window < 1 for p in plans):
            raise ValueError("window, bind_attempts and binds must be at least 1")
        self.name = name or f"smpp:{host}:{port}"
        self._peers = [Peer(p.host or host, p.port or port, system_id, password, system_type, tls, server_name) for p in plans]
        self._paces = [Pace(p.window or window) for p in plans]  # each shrinks while the SMSC throttles it, across calls
        self._timing = Timing(enquire_link_s, bind_timeout_s, bind_attempts)
        self._on_report = on_report
        self._on_inbound = on_inbound
        self._decimal_ids = decimal_receipt_ids
        self._throttle_resends = throttle_resends
        self._sequences = Sequences(random.randrange(1 << 20))
        self._references = itertools.count(random.randrange(256))  # concatenation references, distinct per long message
        # Guards the links' states and the run in progress (its window), shared with every link; notified on each change.
        self.cond = threading.Condition()
        self._run: Window | None = None
        self._submit_lock = threading.Lock()
        self._closing = threading.Event()
        self._links: list[Link] = []

    @property
    def _peer(self) -> str:
        return ", ".join(dict.fromkeys(peer.address for peer in self._peers))

    # Lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Start every bind and wait for them; ``UnreachableError`` when none could bind in a whole round."""
        if self._links:
            return
        self._closing.clear()
        links = [Link(i, peer, self._timing, self._sequences, self, self.name) for i, peer in enumerate(self._peers)]
        self._links = links
        for link in links:
            link.start()
        budget_s = self._timing.bind_attempts * (2 * self._timing.bind_timeout_s + MAX_BIND_BACKOFF_S)
        cond = self.cond
        with cond:
            settled = lambda: all(link.state in ("bound", "unreachable") for link in links)  # noqa: E731
            cond.wait_for(lambda: settled() or any(link.state == "bound" for link in links), timeout=budget_s)
            cond.wait_for(settled, timeout=self._timing.bind_timeout_s)  # the others get one bind's time more
            bound = any(link.state == "bound" for link in links)
            errors = sorted({link.last_error for link in links if link.last_error})
        if not bound:
            self.close()
            raise UnreachableError(f"SMPP peer {self._peer} did not answer ({'; '.join(errors) or 'no bind'}); "
                                   "run `courrier infra up smsc` or set COURRIER_SMPP_HOST")

    def close(self) -> None:
        """Unbind every link (waiting briefly for unbind_resp), then disconnect; callbacks stop.

        A deliver_sm arriving meanwhile still reaches its callback; one whose ``ack`` is not called before the link
        closes is delivered again by the SMSC on the next bind.
        """
        links, self._links = self._links, []
        if not links:
            return
        self._closing.set()
        with self.cond:
            self.cond.notify_all()
        for link in links:
            link.stop(CLOSE_GRACE_S)
        for link in links:
            if not link.join(CLOSE_GRACE_S + self._timing.bind_timeout_s + 1):
                log.warning("SMPP link thread still running after close", extra={"provider": self.name, "peer": link.peer.address})

    @property
    def ready(self) -> bool:
        """Some bind is bound right now: a submit would go out at once (the router sends elsewhere while none is)."""
        with self.cond:
            return any(link.live() is not None for link in self._links)

    def reconnect(self) -> None:
        """Ask every bind whose last round gave up (refused credentials included) for another round."""
        with self.cond:
            for link in self._links:
                link.want()

    # Submitting ----------------------------------------------------------------------------------------------

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """Submit every message with at most a window of submit_sm outstanding per bind; one final result each, in input
        order.

        Answers are classed by ``errors`` (``window`` has the rules): throttled parts are sent again while time remains,
        and that bind's window shrinks; ESME_RSYSERR and the like make a message transient, other refusals permanent.
        A part whose answer is lost with its link makes its message transient ("connection_lost") and is not sent
        again: the dispatch ledger keeps its outcome unknown. Every part carries the message's validity
        (``validity_period``), when it has one. When every bind had its credentials refused, it answers at once.
        """
        assert self._links, "open() first"
        deadline = time.monotonic() + timeout_s
        with self._submit_lock:
            links = self._links
            window = Window([self._job(i, s) for i, s in enumerate(submissions)], self._paces, self._throttle_resends)
            with self.cond:
                self._run = window
            for link in links:
                link.kick()
            with self.cond:
                try:
                    while not window.done() and not self._closing.is_set() and (now := time.monotonic()) < deadline:
                        for link in links:
                            if link.live() is None and not link.credentials_refused:
                                link.want()
                        if not any(link.state in ("bound", "connecting") for link in links):
                            break  # every bind had its credentials refused: nothing will go out before the deadline
                        self.cond.wait(min(1.0, deadline - now))
                finally:
                    self._run = None
                link_up = any(link.live() is not None for link in links)
                refused = all(link.credentials_refused for link in links)
                window.link_lost({index: link.live() for index, link in enumerate(links)})
                results = window.results(link_up, PROVIDER_AUTH_FAILED if refused else NOT_BOUND)
            for sequence, (job, part, _link) in window.in_flight.items():
                log.info("submit_sm unanswered at the deadline", extra={
                    "provider": self.name, "sequence": sequence, "message_id": job.submission.message_id, "part": part + 1})
            return results

    def _job(self, index: int, submission: Submission) -> Job:
        try:
            source = source_address(submission.sender_type, submission.sender_id)
            encoded = encode_message(submission.text, submission.encoding, submission.parts, next(self._references))
            bodies = [pdu.short_message_body(submit_sm(submission, source, encoded, part)) for part in range(len(encoded.payloads))]
        except Unsendable as exc:
            return Job.refused(index, submission, exc.detail)
        except pdu.FieldError as exc:
            return Job.refused(index, submission, f"invalid_field:{exc.field}")
        return Job.of(index, submission, source, encoded, bodies)

    # What the links ask for (each on its own thread) -------------------------------------------------------

    def fill(self, link: Link, generation: int, now: float) -> tuple[bytes, float | None]:
        """The submit_sm ``link``'s window has room for in the run in progress, framed; and, while its bind is paused
        by throttling, when to ask again."""
        frames: list[bytes] = []
        with self.cond:
            window = self._run
            if window is None or link.live() != generation:
                return b"", None
            while (picked := window.next_part(now, link.index)) is not None:
                job, part = picked
                sequence = self._sequences.next()
                frames.append(pdu.frame(pdu.SUBMIT_SM, sequence, job.bodies[part]))
                window.sent(sequence, job, part, (link.index, generation))
            paused_until = self._paces[link.index].paused_until
        return b"".join(frames), paused_until if paused_until > now else None

    def answered(self, link: Link, answers: list[tuple[int, int, str]], now: float) -> None:
        """Apply one read's submit_sm answers to the run in progress; one that is not its (it gave up) is logged."""
        late = []
        with self.cond:
            window = self._run
            for sequence, status, raw_id in answers:
                if window is None or not window.answered(sequence, status, submit_id(raw_id, self._decimal_ids), now):
                    late.append((sequence, status, raw_id))
            if window is not None and window.done():
                self.cond.notify_all()
        for sequence, status, raw_id in late:
            log.warning("submit_sm answered after its run gave up; its outcome stays unknown to the ledger",
                        extra={"provider": self.name, "sequence": sequence, "status": status_code(status), "provider_id": raw_id})

    def ended(self, link: Link, withdrawn: list[int]) -> None:
        """A session ended: its parts that never left go back to be sent (on any bind), the others lost their answers."""
        with self.cond:
            window = self._run
            if window is not None:
                for sequence in withdrawn:
                    window.withdraw(sequence)
                window.link_lost({index: other.live() for index, other in enumerate(self._links)})
                self.cond.notify_all()
        for other in self._links:
            if other is not link:
                other.kick()

    def deliver(self, link: Link, generation: int, sequence: int, message: pdu.ShortMessage) -> None:
        """Hand a deliver_sm to its callback with an ``ack`` that answers it (status 0) later; answer at once what is not
        handed over: a receipt without a message id (0: dropped, the SMSC could only send it again as it is) and an item
        whose callback failed (ESME_RX_T_APPN: the SMSC keeps it and delivers it again). Runs on the link's thread."""
        answer = DeliverSmAnswer(partial(self._answer_deliver, link, generation, sequence))
        item = read_deliver_sm(message, self.name, datetime.now(timezone.utc), self._decimal_ids, answer)
        try:
            if isinstance(item, DeliveryReport):
                self._on_report(item)
            elif item is not None:
                log.info("inbound SMS", extra={"provider": self.name, "from": mask_phone(item.from_number)})
                self._on_inbound(item)
            else:
                log.warning("delivery receipt without a message id dropped", extra={"provider": self.name})
                answer.settle(0)
        except Exception:
            log.exception("deliver_sm callback failed", extra={"provider": self.name})
            answer.settle(ESME_RX_T_APPN)

    def _answer_deliver(self, link: Link, generation: int, sequence: int, status: int) -> None:
        """Queue one deliver_sm_resp on the session the deliver_sm came on, if it is still there; from any thread."""
        if not link.send(pdu.response(pdu.DELIVER_SM_RESP, sequence, status), generation):
            log.info("deliver_sm left unanswered: its session is gone, the SMSC delivers it again",
                     extra={"provider": self.name, "peer": link.peer.address, "sequence": sequence})
