"""``courrier bench smpp``: dispatch's SMPP provider next to a bare submit loop, same window, same SMSC, same sitting.

The bare loop is the wire's floor: one bound session on one thread, its submit_sm encoded before the clock starts,
``window`` of them outstanding, every answer and receipt read per ``recv`` and the next ones written per ``sendall``;
it also times the run until its last receipt is answered (``delivered_rate``, the bare submit/DLR loop ``courrier
bench chain`` sets beside the chain with SMPP).
The provider is ``SmppProvider`` as dispatch runs it: ``submit_many`` on batches of ``batch`` messages, encoding each,
its link thread doing the I/O. Each runs ``rounds`` times, alternately (the best of each is kept: the machine is
shared), after a warm-up; both count only the submits (submit_sm out, submit_sm_resp back), then take every receipt
and answer it before unbinding, so nothing is left at the SMSC for another session.
"""
from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import typer

from common import logs
from common.config import Settings, get_settings
from processors.dispatch.provider import DeliveryReport, InboundSms, Submission
from processors.providers.smpp import pdu
from processors.providers.smpp.session import Peer, Sequences, close_quietly, open_session

WARM_UP = 200
RECEIPTS_WAIT_S = 30.0


@dataclass(frozen=True)
class SmppFigure:
    """One timed run: how many submits were answered (and how many of those were refusals) in how many seconds."""

    name: str
    count: int
    seconds: float
    refused: int = 0
    receipts: int = 0  # of the timed run's accepted submits, how many receipts came back and were answered
    delivered_s: float = 0.0  # from the first timed submit until the last of those receipts was answered

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def delivered_rate(self) -> float:
        """Messages per second submitted and reported (each receipt answered): what a chain ending at DLRs compares to."""
        return self.receipts / self.delivered_s if self.delivered_s else 0.0


def command(
    count: int = typer.Option(20_000, "--count", min=100, max=1_000_000, help="Messages each run submits."),
    window: int = typer.Option(10, "--window", min=1, max=1000, help="Outstanding submit_sm, for both loops."),
    batch: int = typer.Option(500, "--batch", min=1, max=100_000, help="Messages per submit_many call (dispatch's batch)."),
    rounds: int = typer.Option(2, "--rounds", min=1, max=10, help="Runs of each, alternately; the best of each is shown."),
) -> None:
    """Submits per second of dispatch's SmppProvider beside a bare submit loop at the same window, and their ratio."""
    logs.configure("WARNING")
    bench_smpp(get_settings(), count=count, window=window, batch=batch, rounds=rounds)


def bench_smpp(settings: Settings, count: int, window: int, batch: int, rounds: int = 2) -> tuple[SmppFigure, SmppFigure]:
    """Both loops against the configured SMSC (the local one is started if needed, and stopped after); a table, the ratio."""
    from rich.console import Console
    from rich.table import Table

    import infra

    console = Console()
    started_parts = infra.ensure_running(settings, parts=("smsc",))
    try:
        bares, providers = [], []
        for _ in range(rounds):
            with console.status(f"bare submit loop: {count:,} submit_sm, window {window}"):
                bares.append(bare_loop(settings, count, window))
            with console.status(f"SmppProvider: {count:,} messages in batches of {batch}, window {window}"):
                providers.append(provider_loop(settings, count, window, batch))
    finally:
        if started_parts:
            infra.stop(settings, started_parts)
    bare, provider = max(bares, key=lambda f: f.rate), max(providers, key=lambda f: f.rate)
    host, port = settings.smpp_address
    table = Table(title=f"{count:,} submit_sm to {host}:{port}, window {window} (best of {rounds})")
    for column in ("loop", "messages", "refused", "seconds", "submit/s", "every run, submit/s", "with receipts, msg/s"):
        table.add_column(column, justify="left" if column == "loop" else "right")
    for figure, runs in ((bare, bares), (provider, providers)):
        table.add_row(figure.name, f"{figure.count:,}", f"{figure.refused:,}", f"{figure.seconds:.2f}", f"{figure.rate:,.0f}",
                      " ".join(f"{run.rate:,.0f}" for run in runs), f"{figure.delivered_rate:,.0f}")
    console.print(table)
    if bare.rate:
        console.print(f"SmppProvider / bare loop = {provider.rate / bare.rate:.2f}")
    return bare, provider


def provider_loop(settings: Settings, count: int, window: int, batch: int) -> SmppFigure:
    """``SmppProvider.submit_many`` on batches of ``batch``: the submit rate dispatch gets from it."""
    from processors.providers.smpp.adapter import SmppProvider

    receipts = [0]

    def take(item: DeliveryReport | InboundSms) -> None:  # durable at once, as dispatch's would be once produced
        receipts[0] += 1
        if item.ack is not None:
            item.ack()

    host, port = settings.smpp_address
    provider = SmppProvider(host, port, settings.smpp_system_id, settings.smpp_password, window=window, on_report=take,
                            on_inbound=take, name="smpp:bench", decimal_receipt_ids=settings.smpp_decimal_receipt_ids)
    run = uuid.uuid4().hex[:8]

    def submissions(start: int, n: int) -> list[Submission]:
        return [Submission(f"bench-{run}-{i}", "COURRIER", "ALPHANUMERIC", f"+3361{i % 10**7:07d}", f"bench {run} {i}", "GSM7")
                for i in range(start, start + n)]

    provider.open()
    try:
        provider.submit_many(submissions(0, WARM_UP))
        accepted = refused = 0
        started = time.monotonic()
        for start in range(WARM_UP, WARM_UP + count, batch):
            results = provider.submit_many(submissions(start, min(batch, WARM_UP + count - start)))
            accepted += sum(r.accepted for r in results)
            refused += sum(not r.accepted for r in results)
        seconds = time.monotonic() - started
        _wait(lambda: receipts[0] >= WARM_UP + accepted)
        delivered_s = time.monotonic() - started
    finally:
        provider.close()
    return SmppFigure("SmppProvider (dispatch's adapter)", accepted + refused, seconds, refused,
                      min(accepted, max(0, receipts[0] - WARM_UP)), delivered_s)


def bare_loop(settings: Settings, count: int, window: int) -> SmppFigure:
    """One session, one thread, PDUs encoded beforehand: the most the SMSC gives one bind at this window."""
    host, port = settings.smpp_address
    run = uuid.uuid4().hex[:8]
    bodies = [pdu.short_message_body(pdu.ShortMessage(5, 0, "COURRIER", 1, 1, f"3361{i % 10**7:07d}", 0, 0,
                                                      f"bare {run} {i}".encode(), registered_delivery=1))
              for i in range(WARM_UP + count)]
    sequences = Sequences()
    session = open_session(Peer(host, port, settings.smpp_system_id, settings.smpp_password), 10.0, sequences)
    wire = _Wire(session.sock, session.buffer, session.early)
    try:
        warm_refused = wire.submit(bodies[:WARM_UP], window, sequences)
        started = time.monotonic()
        refused = wire.submit(bodies[WARM_UP:], window, sequences)
        seconds = time.monotonic() - started
        _wait(lambda: wire.receipts >= WARM_UP - warm_refused + count - refused, wire.read_once)
        delivered_s = time.monotonic() - started
        # The warm-up's receipts come first or alongside; more than one per accepted submit would be another session's.
        receipts = min(count - refused, max(0, wire.receipts - (WARM_UP - warm_refused)))
        wire.unbind(sequences)
    finally:
        close_quietly(session.sock)
    return SmppFigure("bare submit loop (one thread, pre-encoded)", count, seconds, refused, receipts, delivered_s)


class _Wire:
    """The bare loop's session: blocking reads, every PDU of a read handled at once, receipts answered 0."""

    def __init__(self, sock: socket.socket, buffer: bytearray, early: list[pdu.Pdu]) -> None:
        self.sock, self.buffer, self.pending = sock, buffer, list(early)
        self.receipts = 0
        sock.settimeout(RECEIPTS_WAIT_S)

    def submit(self, bodies: list[bytes], window: int, sequences: Sequences) -> int:
        """Send every body with ``window`` outstanding; returns how many were refused."""
        sent = answered = refused = 0
        while answered < len(bodies):
            room = min(window - (sent - answered), len(bodies) - sent)
            if room > 0:
                self.sock.sendall(b"".join(pdu.frame(pdu.SUBMIT_SM, sequences.next(), body) for body in bodies[sent:sent + room]))
                sent += room
            for p in self._take():
                if p.command_id in (pdu.SUBMIT_SM_RESP, pdu.GENERIC_NACK):
                    answered += 1
                    refused += p.status != 0
        return refused

    def read_once(self) -> None:
        """One read, waiting a second at most (receipts still on their way)."""
        self.sock.settimeout(1.0)
        try:
            self._take()
        except TimeoutError:
            pass

    def unbind(self, sequences: Sequences) -> None:
        self.sock.settimeout(2.0)
        self.sock.sendall(pdu.frame(pdu.UNBIND, sequences.next()))
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not any(p.command_id == pdu.UNBIND_RESP for p in self._take()):
            pass

    def _take(self) -> list[pdu.Pdu]:
        """Read once, answer what asks for an answer, return what was read."""
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the SMSC closed the bench's session")
        self.buffer += chunk
        read, self.pending = self.pending + pdu.split(self.buffer), []
        answers = []
        for p in read:
            if p.command_id == pdu.DELIVER_SM:
                self.receipts += 1
                answers.append(pdu.response(pdu.DELIVER_SM_RESP, p.sequence))
            elif p.command_id == pdu.ENQUIRE_LINK:
                answers.append(pdu.response(pdu.ENQUIRE_LINK_RESP, p.sequence))
        if answers:
            self.sock.sendall(b"".join(answers))
        return read


def _wait(done: Callable[[], bool], step: Callable[[], None] = lambda: time.sleep(0.05)) -> None:
    """Until ``done()``, calling ``step`` between looks, for ``RECEIPTS_WAIT_S`` at most."""
    deadline = time.monotonic() + RECEIPTS_WAIT_S
    while not done() and time.monotonic() < deadline:
        step()
