"""Dispatch decisions with an in-process provider: what leaves, what does not, and how reports are gathered."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Sequence

import fastavro
import pytest

from common.errors import TransientError
import schemas
from processors.dispatch import logic
from processors.dispatch.provider import DeliveryReport, InboundSms, Submission, SubmitResult
from processors.dispatch.stage import DispatchStage
from processors.dispatch.validity import Validity
from processors.runtime.stage import Output, RecordMeta

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
VALIDITY = Validity(default_s=86_400, report_grace_s=3_600, grace_by_provider={"other": 60})


class ScriptedProvider:
    """Answers each destination as scripted; records what was submitted."""

    name = "scripted"

    def __init__(self, on_report, on_inbound, answers: dict[str, SubmitResult] | None = None) -> None:
        self.on_report, self.on_inbound = on_report, on_inbound
        self.answers = answers or {}
        self.submitted: list[Submission] = []

    def open(self) -> None: ...

    def close(self) -> None: ...

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        self.submitted.extend(submissions)
        return [self.answers.get(s.destination, SubmitResult(s.message_id, True, [f"p-{s.message_id}"], None, False, None))
                for s in submissions]


class MemorySink:
    """Provider events as the broker takes them: kept in order; acknowledged at once, or when ``confirm`` says."""

    def __init__(self, auto: bool = True) -> None:
        self.auto = auto
        self.produced: list[Output] = []
        self._waiting: list[Callable[[str | None], None]] = []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def produce(self, output: Output, done: Callable[[str | None], None]) -> None:
        self.produced.append(output)
        if self.auto:
            done(None)
        else:
            self._waiting.append(done)

    def confirm(self, error: str | None = None) -> None:
        """The broker's answer to everything produced and not answered yet."""
        waiting, self._waiting = self._waiting, []
        for done in waiting:
            done(error)


def wait_until(check: Callable[[], object], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(check())


class MemoryLedger:
    """The ledger's contract in memory: last record per message id."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.writes: list[list[str]] = []  # the states each synchronous write carried
        self.later: list[dict] = []
        self.sink = MemorySink()

    def event_sink(self) -> MemorySink:
        return self.sink

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def state(self, message_id: str) -> dict | None:
        return self.records.get(message_id)

    def write(self, records) -> None:
        self.writes.append([r["state"] for r in records])
        self.remember(records)

    def remember(self, records) -> list:
        for record in records:
            self.records[record["message_id"]] = record
        return [logic.ledger_output(record) for record in records]

    def write_later(self, records) -> None:
        self.later.extend(records)
        self.remember(records)


def rendered(message_id: str, e164: str = "+33612345678", channel: str = "SMS", expires_at: datetime | None = None,
             segments: int = 1) -> dict:
    return {
        "context": {"message_id": message_id, "idempotency_key": None, "campaign_id": None, "variant": None, "lane": "TRANSACTIONAL",
                    "subscription_group": None, "requested_at": NOW - timedelta(seconds=5), "source": "test"},
        "recipient": {"e164": e164, "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "channel": channel, "fallback_reason": None,
        "sender": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
        "template_id": "otp", "sms": {"text": "Your code is 1", "encoding": "GSM7", "segments": segments, "units": 14},
        "rcs_json": None, "media_urls": [], "expires_at": expires_at,
    }


def meta(offset: int = 0) -> RecordMeta:
    return RecordMeta("rendered", 0, offset, "COURRIER", NOW)


def started_stage(ledger: MemoryLedger) -> tuple[DispatchStage, list[ScriptedProvider]]:
    made: list[ScriptedProvider] = []

    def factory(on_report, on_inbound):
        made.append(ScriptedProvider(on_report, on_inbound))
        return made[-1]

    stage = DispatchStage(factory, ledger, validity=VALIDITY)
    stage.open()
    return stage, made


@pytest.fixture
def stage_and_provider() -> Iterator[tuple[DispatchStage, list[ScriptedProvider], MemorySink]]:
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    yield stage, made, ledger.sink
    stage.close()


def valid(topic_schema: str, value: dict) -> None:
    fastavro.validation.validate(value, schemas.parsed_schema(topic_schema), raise_errors=True)


def test_an_accepted_message_is_dispatched_with_its_provider_ids(stage_and_provider) -> None:
    stage, made, _sink = stage_and_provider
    [outputs] = stage.process_batch([(rendered("m1"), meta())])
    assert [o.topic for o in outputs] == ["dispatched", "rcs-deadline", "submissions"]
    assert outputs[0].key == "m1"  # keyed by message id, as rcs-deadline and message-state are
    assert outputs[0].value["provider_message_ids"] == ["p-m1"] and outputs[0].value["provider"] == "scripted"
    valid("Dispatched", outputs[0].value)
    assert made[0].submitted[0].destination == "+33612345678" and made[0].submitted[0].sender_type == "ALPHANUMERIC"


def test_an_expired_message_never_reaches_the_provider(stage_and_provider) -> None:
    stage, made, _sink = stage_and_provider
    [outputs] = stage.process_batch([(rendered("m1", expires_at=NOW - timedelta(seconds=1)), meta())])
    assert [(o.topic, o.value["status"], o.value["reason"]) for o in outputs] == [("receipt", "EXPIRED", "validity_elapsed")]
    valid("Receipt", outputs[0].value)
    assert made[0].submitted == []


def test_a_channel_without_a_provider_fails_with_a_reason(stage_and_provider) -> None:
    stage, made, _sink = stage_and_provider
    [outputs] = stage.process_batch([(rendered("m1", channel="MMS"), meta())])
    assert (outputs[0].value["status"], outputs[0].value["reason"]) == ("FAILED", "no_provider_for_channel")
    assert made[0].submitted == []


def test_transient_refusals_retry_and_permanent_ones_fail(stage_and_provider) -> None:
    stage, made, _sink = stage_and_provider
    made[0].answers = {
        "+33600000001": SubmitResult("busy", False, [], "0x00000058", True, "throttled"),
        "+33600000002": SubmitResult("bad", False, [], "0x0000000B", False, "invalid_destination_address"),
    }
    busy, bad, fine = stage.process_batch([(rendered("busy", "+33600000001"), meta(0)), (rendered("bad", "+33600000002"), meta(1)),
                                           (rendered("fine"), meta(2))])
    assert isinstance(busy, TransientError)
    assert (bad[0].value["status"], bad[0].value["reason"], bad[0].value["provider_status"]) == (
        "FAILED", "invalid_destination_address", "0x0000000B")
    assert fine[0].topic == "dispatched"


def test_parts_of_a_long_sms_are_reported_once_all_have_reported(stage_and_provider) -> None:
    stage, made, sink = stage_and_provider
    made[0].answers = {"+33612345678": SubmitResult("long", True, ["a", "b", "c"], None, False, None)}
    stage.process_batch([(rendered("long", segments=3), meta())])
    report = lambda pid, stat: DeliveryReport("scripted", pid, stat, "000", f"id:{pid} stat:{stat}", NOW)  # noqa: E731
    made[0].on_report(report("a", "DELIVRD"))
    made[0].on_report(report("b", "UNDELIV"))
    made[0].on_report(report("c", "DELIVRD"))
    assert not wait_until(lambda: sink.produced, timeout_s=0.3), "the batch that announced it is not settled yet"
    assert list(stage.poll_outputs()) == []  # the runtime settled the batch
    assert wait_until(lambda: len(sink.produced) == 1)
    [event] = sink.produced
    assert event.topic == "provider-events" and event.value["raw_status"] == "DELIVRD,UNDELIV,DELIVRD"
    assert event.value["dispatched"]["context"]["message_id"] == "long"
    valid("ProviderEvent", event.value)


def test_reports_and_inbound_messages_this_process_cannot_attribute_still_flow(stage_and_provider) -> None:
    stage, made, sink = stage_and_provider
    made[0].on_report(DeliveryReport("scripted", "unknown-id", "DELIVRD", "000", "id:unknown-id", NOW))
    made[0].on_inbound(InboundSms("scripted", "+33612345678", "36180", "STOP", NOW))
    assert wait_until(lambda: len(sink.produced) == 2), "no batch is open: nothing waits"
    report, inbound = sink.produced
    assert report.value["dispatched"] is None and report.key == "unknown-id"
    assert (inbound.topic, inbound.key, inbound.value["text"]) == ("inbound", "+33612345678", "STOP")
    valid("ProviderEvent", report.value)
    valid("InboundMessage", inbound.value)


def test_a_message_the_ledger_saw_accepted_is_announced_again_not_resubmitted() -> None:
    ledger = MemoryLedger()
    first, first_provider = started_stage(ledger)
    first.process_batch([(rendered("m1"), meta())])
    assert ledger.records["m1"]["state"] == "SUBMITTED" and ledger.records["m1"]["provider_message_ids"] == ["p-m1"]
    again, again_provider = started_stage(ledger)  # a new process after a crash, a rebalance or a replay
    [outputs] = again.process_batch([(rendered("m1"), meta())])
    assert again_provider[0].submitted == []
    assert [(o.topic, o.value["provider_message_ids"]) for o in outputs] == [("dispatched", ["p-m1"]), ("rcs-deadline", ["p-m1"]), ("submissions", ["p-m1"])]
    assert len(first_provider[0].submitted) == 1


def test_an_unanswered_submit_is_never_resubmitted() -> None:
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    made[0].answers = {"+33612345678": SubmitResult("m1", False, [], None, True, "connection_lost")}
    [first] = stage.process_batch([(rendered("m1"), meta())])
    assert isinstance(first, TransientError) and ledger.records["m1"]["state"] == "SUBMITTING"
    [retried] = stage.process_batch([(rendered("m1"), meta(1))])
    assert (retried[0].value["status"], retried[0].value["reason"]) == ("FAILED", "submission_outcome_unknown")
    assert len(made[0].submitted) == 1


def test_a_refused_submit_may_be_tried_again() -> None:
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    made[0].answers = {"+33612345678": SubmitResult("m1", False, [], "0x00000058", True, "throttled")}
    [first] = stage.process_batch([(rendered("m1"), meta())])
    assert isinstance(first, TransientError) and ledger.records["m1"]["state"] == "FAILED"
    made[0].answers = {}
    [second] = stage.process_batch([(rendered("m1"), meta(1))])
    assert second[0].topic == "dispatched" and ledger.records["m1"]["attempt"] == 2
    assert len(made[0].submitted) == 2


def test_one_message_twice_in_a_batch_is_submitted_once() -> None:
    """A replay or a re-run campaign can put one message id twice into a batch: the copy waits for the ledger's answer."""
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    first, copy = stage.process_batch([(rendered("m1"), meta()), (rendered("m1"), meta(1))])
    assert [o.topic for o in first] == ["dispatched", "rcs-deadline", "submissions"] and isinstance(copy, TransientError)
    [later] = stage.process_batch([(rendered("m1"), meta(2))])
    assert [(o.topic, o.value["provider_message_ids"]) for o in later] == [("dispatched", ["p-m1"]), ("rcs-deadline", ["p-m1"]), ("submissions", ["p-m1"])]
    assert len(made[0].submitted) == 1


def test_only_submitting_is_written_before_the_submit_and_the_answers_ride_the_batch() -> None:
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    made[0].answers = {"+33600000002": SubmitResult("m2", False, [], "0x0000000B", False, "ESME_RINVDSTADR"),
                       "+33600000003": SubmitResult("m3", False, [], "0x00000058", True, "throttled")}
    accepted, refused, throttled = stage.process_batch([(rendered(f"m{i}", f"+3360000000{i}"), meta(i)) for i in (1, 2, 3)])
    assert ledger.writes == [["SUBMITTING"] * 3], "one synchronous write per wave, before its submit"
    assert [(o.key, o.value["state"]) for o in accepted + refused if o.topic == "submissions"] == [("m1", "SUBMITTED"), ("m2", "FAILED")]
    assert isinstance(throttled, TransientError) and [(r["message_id"], r["state"]) for r in ledger.later] == [("m3", "FAILED")]
    assert {m: r["state"] for m, r in ledger.records.items()} == {"m1": "SUBMITTED", "m2": "FAILED", "m3": "FAILED"}
