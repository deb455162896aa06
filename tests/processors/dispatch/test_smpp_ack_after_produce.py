"""A delivery receipt or inbound SMS is acknowledged to the SMSC only after it is safely in Kafka.

Three levels: the SMPP provider answers a deliver_sm only when the item's ``ack`` is called (scripted SMSC);
the dispatch stage calls the acks only when the broker acknowledged the records carrying them (a sink of its own,
outside the batch transaction, not after the next batch); and, through
the real broker and Courrier's SMSC, a dispatch SIGKILLed after the receipts arrived but before it produced them
loses none: the SMSC delivers them again to the next dispatch.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import smpplib.smpp
from confluent_kafka import Consumer

from common.config import Settings
import infra
from dispatch_broker import publish, rendered, running, smpp_factory
from common.kafka_clients import consumer_config
from infra.parts import SMSC
from infra.process import listening
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.provider import DeliveryReport, InboundSms, SubmitResult
from processors.providers.smpp.adapter import SmppProvider
from processors.providers.smpp.errors import ESME_RX_T_APPN
from processors.dispatch.stage import DispatchStage
from processors.runtime.serde import AvroSerde
from test_dispatch_stage import NOW, MemoryLedger, MemorySink, ScriptedProvider, meta, started_stage, wait_until
from test_dispatch_stage import rendered as rendered_event
from tests.processors.providers.smpp import test_smpp_link
from tests.processors.providers.smpp.test_smpp_link import NUMBERS, FakeSmsc, sms

RECEIPT = b"id:%d sub:001 dlvrd:001 submit date:2611230819 done date:2611230819 stat:DELIVRD err:000 text:"
REPO = Path(__file__).resolve().parents[3]


# The provider: deliver_sm answered when acknowledged ------------------------------------------------------------------

class Wire:
    """Every PDU the scripted SMSC read from the provider, as (command, sequence, status)."""

    def __init__(self) -> None:
        self.pdus: list[tuple[str, int, int]] = []

    def answers(self) -> list[tuple[int, int]]:
        return [(sequence, status) for command, sequence, status in self.pdus if command == "deliver_sm_resp"]


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    seen = Wire()
    read = test_smpp_link.read_pdu

    def recording(conn):
        pdu = read(conn)
        if pdu is not None:
            seen.pdus.append((pdu.command, pdu.sequence, int(pdu.status or 0)))
        return pdu

    monkeypatch.setattr(test_smpp_link, "read_pdu", recording)
    return seen


def deliver(smsc: FakeSmsc, sequence: int, conn: int = -1, **fields) -> None:
    """Send one deliver_sm with ``sequence`` on the SMSC's ``conn``-th connection."""
    pdu = smpplib.smpp.make_pdu("deliver_sm", client=NUMBERS, **fields)
    pdu.sequence = sequence
    smsc._conns[conn].sendall(pdu.generate())


def receipt_fields(provider_id: int) -> dict:
    return {"esm_class": 0x04, "source_addr": "33612345678", "destination_addr": "38383", "short_message": RECEIPT % provider_id}


@pytest.fixture
def handed() -> queue.SimpleQueue:
    return queue.SimpleQueue()


@pytest.fixture
def provider(handed: queue.SimpleQueue) -> Iterator[Callable[..., SmppProvider]]:
    opened: list[tuple[SmppProvider, FakeSmsc]] = []

    def _open(smsc: FakeSmsc, **options) -> SmppProvider:
        made = SmppProvider("127.0.0.1", smsc.port, "j", "jpwd", on_report=handed.put, on_inbound=handed.put,
                            decimal_receipt_ids=True, **{"bind_attempts": 2, **options})
        opened.append((made, smsc))
        made.open()
        return made

    yield _open
    for made, smsc in opened:
        made.close()
        smsc.close()


def test_a_receipt_and_an_inbound_sms_are_answered_only_when_acknowledged(provider, handed, wire: Wire) -> None:
    smsc = FakeSmsc()
    provider(smsc)
    deliver(smsc, 101, **receipt_fields(26))
    deliver(smsc, 102, source_addr_ton=1, source_addr="33612345678", destination_addr="38383", short_message=b"STOP")
    report, inbound = handed.get(timeout=5), handed.get(timeout=5)
    assert isinstance(report, DeliveryReport) and isinstance(inbound, InboundSms)
    assert not wait_until(lambda: wire.answers(), timeout_s=0.5), "answered before anyone acknowledged"
    inbound.ack()
    assert wait_until(lambda: wire.answers() == [(102, 0)])
    report.ack()
    report.ack()  # a second call sends nothing
    assert wait_until(lambda: len(wire.answers()) >= 2)
    time.sleep(0.2)
    assert wire.answers() == [(102, 0), (101, 0)]


def test_the_ack_is_not_part_of_equality() -> None:
    kept = DeliveryReport("smpp", "26", "DELIVRD", "000", "id:26", NOW, ack=lambda: None)
    assert kept == DeliveryReport("smpp", "26", "DELIVRD", "000", "id:26", NOW) and "ack" not in repr(kept)


def test_an_ack_after_its_session_is_gone_sends_nothing_on_the_next_one(provider, handed, wire: Wire) -> None:
    smsc = FakeSmsc()
    made = provider(smsc)
    deliver(smsc, 201, **receipt_fields(27))
    report = handed.get(timeout=5)
    smsc._conns[0].shutdown(socket.SHUT_RDWR)  # the link drops: the SMSC keeps the receipt for the next bind
    assert wait_until(lambda: smsc.binds == 2 and made.ready, timeout_s=10)
    report.ack()
    deliver(smsc, 202, **receipt_fields(28))
    handed.get(timeout=5).ack()
    assert wait_until(lambda: wire.answers() == [(202, 0)])
    time.sleep(0.2)
    assert wire.answers() == [(202, 0)]


def test_a_failing_callback_is_refused_at_once_and_a_later_ack_sends_nothing(wire: Wire) -> None:
    kept: list[DeliveryReport] = []

    def keep_then_fail(report: DeliveryReport) -> None:
        kept.append(report)
        raise RuntimeError("queue full")

    smsc = FakeSmsc()
    made = SmppProvider("127.0.0.1", smsc.port, "j", "jpwd", on_report=keep_then_fail, on_inbound=lambda m: None)
    made.open()
    try:
        deliver(smsc, 301, **receipt_fields(29))
        assert wait_until(lambda: wire.answers() == [(301, ESME_RX_T_APPN)])
        kept[0].ack()
        time.sleep(0.2)
        assert wire.answers() == [(301, ESME_RX_T_APPN)]
    finally:
        made.close()
        smsc.close()


def test_a_receipt_without_a_message_id_is_answered_at_once(provider, handed, wire: Wire) -> None:
    smsc = FakeSmsc()
    provider(smsc)
    deliver(smsc, 401, esm_class=0x04, short_message=b"sub:001 stat:DELIVRD err:000")
    assert wait_until(lambda: wire.answers() == [(401, 0)])
    assert handed.empty()


def test_acks_from_other_threads_while_submitting_keep_every_pdu_whole(provider, handed, wire: Wire) -> None:
    smsc = FakeSmsc()
    made = provider(smsc)
    sequences = list(range(1000, 1200))
    for sequence in sequences:
        deliver(smsc, sequence, **receipt_fields(sequence))
    reports = [handed.get(timeout=10) for _ in sequences]
    ackers = [threading.Thread(target=lambda chunk=reports[i::8]: [r.ack() for r in chunk]) for i in range(8)]
    for acker in ackers:
        acker.start()
    results = made.submit_many([sms(f"m{i}", text=f"code {i}") for i in range(50)], timeout_s=20)
    for acker in ackers:
        acker.join()
    assert all(r.accepted for r in results) and len(smsc.submits) == 50
    assert wait_until(lambda: len(wire.answers()) == len(sequences))
    assert sorted(wire.answers()) == [(s, 0) for s in sequences]


# The stage: acknowledged once the broker acknowledged the record, not after any batch ---------------------------------

class Acks:
    """Which provider items were acknowledged, by name."""

    def __init__(self) -> None:
        self.done: list[str] = []

    def of(self, name: str) -> Callable[[], None]:
        return lambda: self.done.append(name)


def report(provider_id: str, acks: Acks, name: str, stat: str = "DELIVRD") -> DeliveryReport:
    return DeliveryReport("scripted", provider_id, stat, "000", f"id:{provider_id} stat:{stat}", NOW, ack=acks.of(name))


def held_ledger() -> MemoryLedger:
    """A ledger whose event sink answers only when the test says the broker did."""
    ledger = MemoryLedger()
    ledger.sink = MemorySink(auto=False)
    return ledger


def test_reports_and_inbound_are_acked_when_the_broker_acknowledges_them_and_produced_again_when_it_refuses() -> None:
    ledger = held_ledger()
    stage, made = started_stage(ledger)
    acks = Acks()
    made[0].on_report(report("unknown", acks, "report"))
    made[0].on_inbound(InboundSms("scripted", "+33612345678", "36180", "STOP", NOW, ack=acks.of("inbound")))
    assert wait_until(lambda: len(ledger.sink.produced) == 2)
    assert [o.topic for o in ledger.sink.produced] == ["provider-events", "inbound"] and acks.done == [], "never before the broker"
    ledger.sink.confirm("broker unreachable")
    assert wait_until(lambda: len(ledger.sink.produced) == 4), "a record the broker refused is produced again"
    assert acks.done == []
    ledger.sink.confirm()
    assert wait_until(lambda: sorted(acks.done) == ["inbound", "report"])
    stage.close()


def test_a_report_waits_for_the_batch_that_announced_its_message_and_no_other() -> None:
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    acks = Acks()
    stage.process_batch([(rendered_event("first", "+33600000001"), meta(0))])
    stage.poll_outputs()  # the runtime settled the first batch
    stage.process_batch([(rendered_event("second", "+33600000002"), meta(1))])  # open until the next poll
    made[0].on_report(report("p-second", acks, "second"))
    made[0].on_report(report("p-first", acks, "first"))
    assert wait_until(lambda: acks.done == ["first"]), "a committed message's report does not wait for the open batch"
    assert ledger.sink.produced[0].value["dispatched"]["context"]["message_id"] == "first"
    stage.poll_outputs()
    assert wait_until(lambda: acks.done == ["first", "second"])
    assert ledger.sink.produced[1].value["dispatched"]["context"]["message_id"] == "second"
    stage.close()


def test_parts_of_a_long_sms_are_acked_only_with_the_combined_report() -> None:
    ledger = held_ledger()
    stage, made = started_stage(ledger)
    acks = Acks()
    made[0].answers = {"+33612345678": SubmitResult("long", True, ["a", "b", "c"], None, False, None)}
    stage.process_batch([(rendered_event("long", segments=3), meta())])
    stage.poll_outputs()
    made[0].on_report(report("a", acks, "a, first delivery"))
    made[0].on_report(report("b", acks, "b", "UNDELIV"))
    assert not wait_until(lambda: ledger.sink.produced, timeout_s=0.3)
    ledger.sink.confirm()
    assert acks.done == [], "a part kept in memory is not durable"
    made[0].on_report(report("a", acks, "a, delivered again"))  # the SMSC gave up waiting for its answer
    made[0].on_report(report("c", acks, "c"))
    assert wait_until(lambda: len(ledger.sink.produced) == 1)
    [combined] = ledger.sink.produced
    assert combined.value["raw_status"] == "DELIVRD,UNDELIV,DELIVRD" and acks.done == []
    ledger.sink.confirm()
    assert sorted(acks.done) == ["a, delivered again", "b", "c"]
    stage.close()


def test_parts_kept_for_a_message_pushed_out_of_the_bound_are_produced_on_their_own_then_acked() -> None:
    made = []

    def factory(on_report, on_inbound):
        made.append(ScriptedProvider(on_report, on_inbound, {
            "+33600000001": SubmitResult("one", True, ["a", "b"], None, False, None),
            "+33600000002": SubmitResult("two", True, ["c", "d"], None, False, None)}))
        return made[-1]

    ledger = held_ledger()
    stage = DispatchStage(factory, ledger, max_in_flight=1)
    stage.open()
    acks = Acks()
    stage.process_batch([(rendered_event("one", "+33600000001", segments=2), meta(0))])
    stage.poll_outputs()
    made[0].on_report(report("a", acks, "a"))
    assert not wait_until(lambda: ledger.sink.produced, timeout_s=0.3)
    stage.process_batch([(rendered_event("two", "+33600000002", segments=2), meta(1))])
    stage.poll_outputs()  # "two" is remembered: "one" leaves the in-flight bound
    assert wait_until(lambda: len(ledger.sink.produced) == 1)
    [alone] = ledger.sink.produced
    assert (alone.key, alone.value["dispatched"]) == ("a", None) and acks.done == []
    ledger.sink.confirm()
    assert acks.done == ["a"]
    stage.close()


# Through the real broker and Courrier's SMSC: SIGKILL between the receipts' arrival and their produce ----------------

@pytest.fixture
def smsc_port(topic_settings: Settings, tmp_path: Path) -> Iterator[int]:
    """An SMSC of this test's own (receipts 200 ms after each submit): no other test's session can take its receipts."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    infra.fetch(topic_settings, ["smsc"])
    launch = SMSC.launch(topic_settings.model_copy(update={"smpp_port": port, "smsc_control_port": 0}))
    with open(tmp_path / "smsc.log", "wb") as log_file:
        process = subprocess.Popen(launch.argv, cwd=launch.cwd, stdout=log_file, stderr=subprocess.STDOUT,
                                   env={**os.environ, **launch.env}, start_new_session=True)
    try:
        assert wait_until(lambda: listening(port), timeout_s=60), "the private SMSC did not start"
        yield port
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Stalled:
    """``stalled_dispatch.py`` as a process of its own: the provider ids of the reports it received (and kept)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve().parent / "stalled_dispatch.py")], cwd=REPO,
                stdout=subprocess.PIPE, stderr=log_file, env={**os.environ, **settings.as_env()}, start_new_session=True)
        self.received: set[str] = set()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.received.add(json.loads(line)["received"])

    def kill(self) -> None:
        """SIGKILL: no batch finishes, no close runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


class Topic:
    """Follows one topic from its beginning; ``values`` is everything read so far."""

    def __init__(self, settings: Settings, logical: str) -> None:
        self._logical = logical
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._consumer = Consumer(consumer_config(settings, f"follow-{uuid.uuid4()}"))
        self._consumer.subscribe([settings.topic(logical)])
        self.values: list[dict] = []

    def read_until(self, done: Callable[[list[dict]], bool], timeout_s: float) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while not done(self.values) and time.monotonic() < deadline:
            for message in self._consumer.consume(500, 0.2):
                if message.error() is None:
                    self.values.append(self._serde.decode(self._logical, message.value()))
        return self.values

    def close(self) -> None:
        self._consumer.close()


def test_receipts_of_a_dispatch_killed_before_producing_them_all_reach_provider_events(
        topic_settings: Settings, smsc_port: int, tmp_path: Path) -> None:
    settings = topic_settings.model_copy(update={"smpp_port": smsc_port})
    long_text = ("Votre colis est en route. " * 16)[:400]  # three parts, three receipts
    messages = ([rendered(f"short-{i}", f"+336110{i:05d}", "COURRIER", 100.0, lane="TRANSACTIONAL") for i in range(20)]
                + [rendered(f"long-{i}", f"+336120{i:05d}", "COURRIER", 100.0, lane="TRANSACTIONAL", text=long_text) for i in range(2)])
    dispatched, events = Topic(settings, "dispatched"), Topic(settings, "provider-events")
    victim = Stalled(settings, tmp_path / "stalled-dispatch.log")
    try:
        publish(settings, "rendered", messages)
        submitted = dispatched.read_until(lambda values: len(values) >= len(messages), timeout_s=120)
        expected = {pid for value in submitted for pid in value["provider_message_ids"]}
        assert len(submitted) == len(messages) and len(expected) == 26, f"not all dispatched: see {tmp_path}"
        assert wait_until(lambda: expected <= victim.received, timeout_s=60), f"receipts missing at the victim: see {tmp_path}"
        assert events.read_until(lambda values: False, timeout_s=1.0) == [], "the victim produced reports it should hold"
    finally:
        victim.kill()

    stage = DispatchStage(smpp_factory(settings, []), SubmissionLedger(settings))
    with running(settings, stage, scheduler=False):
        reported = events.read_until(lambda values: expected <= {v["provider_message_id"] for v in values}, timeout_s=120)
    dispatched.close()
    events.close()
    assert expected <= {v["provider_message_id"] for v in reported}, (
        f"{len(expected - {v['provider_message_id'] for v in reported})} of {len(expected)} receipts lost with the killed dispatch")
