"""The runner's routing, dead-letter and retry decisions, through the in-process harness (no broker, no registry)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

import pytest

from common.errors import TransientError
from processors.failed import beside_dead_letter
from processors.receipts import receipt
from processors.runtime import policy
from processors.runtime.stage import Event, Output, RecordMeta
from processors.runtime.testing import StageHarness

NOW = datetime(2031, 5, 6, 7, 0, tzinfo=timezone.utc)
TRACE = ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


class ScriptedStage:
    """Answers by template id: ``ok`` → a receipt; ``boom`` raises; ``later`` is transient on its first attempt,
    ``never`` on every one, ``until`` until a deadline; ``misfit`` writes a value its schema refuses; ``side`` adds a
    misfit side output at the next poll; ``tomorrow`` a receipt delivered in a day."""

    name = "scripted"
    inputs = ("send-requested",)

    def __init__(self) -> None:
        self.attempts: list[int] = []
        self.side: list[Output] = []
        self.told: list[str] = []

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        template = event["template_id"]
        attempt = int(meta.headers.get(policy.ATTEMPT, b"0"))
        self.attempts.append(attempt)
        if template == "boom":
            raise ValueError("template boom always fails")
        if template == "misfit":
            return [Output("receipt", event["recipient"], {"status": "NOT A STATUS"})]
        if template == "side":
            self.side.append(Output("receipt", event["recipient"], {"status": "NOT A STATUS"}))
        if template == "later" and attempt == 0 or template == "never":
            raise TransientError("provider busy", delay_s=2.0)
        if template == "until":
            raise TransientError("no answer yet", retry_until=meta.now + timedelta(seconds=30))
        done = receipt(event["context"], event["recipient"], "DELIVERED", self.name, meta.now)
        if template == "tomorrow":
            return [dataclasses.replace(done, deliver_at=meta.now + timedelta(days=1))]
        return [done]

    def poll_outputs(self) -> list[Output]:
        side, self.side = self.side, []
        return side

    def outputs_delivered(self) -> None:
        self.told.append("delivered")

    def batch_aborted(self) -> None:
        self.told.append("aborted")

    def dead_letter_outputs(self, event: Event, error: BaseException, meta: RecordMeta) -> list[Output]:
        return beside_dead_letter(self.name, event, error, meta)


def request(message_id: str, template: str) -> Event:
    return {"context": {"message_id": message_id, "lane": "TRANSACTIONAL", "requested_at": NOW},
            "recipient": "+33612345678", "template_id": template, "channel_policy": "SMS"}


@pytest.fixture
def harness() -> StageHarness:
    return StageHarness(ScriptedStage(), clock=lambda: NOW)


def test_an_output_goes_to_its_topic_with_the_inputs_headers(harness: StageHarness) -> None:
    harness.feed("send-requested", request("m-1", "ok"), key="+33612345678", headers=[TRACE])
    out = harness.run()
    assert list(out) == ["receipt"]
    (written,) = out["receipt"]
    assert written.event["status"] == "DELIVERED" and written.key == "+33612345678"
    assert TRACE in written.headers


def test_an_undecodable_record_is_dead_lettered_with_its_bytes_and_nothing_else(harness: StageHarness) -> None:
    harness.feed("send-requested", request("m-0", "ok"))
    harness.feed("send-requested", b"definitely not avro", key=b"k")
    out = harness.run()
    (dead,) = out["dead-letter"]
    assert dead.value == b"definitely not avro" and dead.key == b"k"
    assert dead.header(policy.ERROR_CLASS) == "DecodeError"
    assert (dead.header(policy.SOURCE_TOPIC), dead.header(policy.SOURCE_OFFSET)) == ("send-requested", "1")
    assert len(out["receipt"]) == 1  # the good record before it went on


def test_a_failing_record_is_dead_lettered_with_its_failed_receipt_beside_it(harness: StageHarness) -> None:
    harness.feed("send-requested", request("boom-0", "boom"), key="+33612345678", headers=[TRACE])
    out = harness.run()
    (dead,) = out["dead-letter"]
    assert dead.event["context"]["message_id"] == "boom-0"  # the original bytes, decodable as the input
    assert dead.header(policy.ERROR_MESSAGE) == "template boom always fails" and TRACE in dead.headers
    (failed,) = out["receipt"]
    assert failed.event["status"] == "FAILED" and failed.event["reason"] == "dead_lettered"


def test_an_output_that_breaks_its_schema_dead_letters_the_input_not_half_its_outputs(harness: StageHarness) -> None:
    harness.feed("send-requested", request("misfit-0", "misfit"))
    out = harness.run()
    assert out["dead-letter"][0].event["context"]["message_id"] == "misfit-0"
    assert [r.event["status"] for r in out["receipt"]] == ["FAILED"]


def test_a_transient_error_goes_to_retry_and_comes_back_as_the_next_attempt(harness: StageHarness) -> None:
    harness.feed("send-requested", request("later-0", "later"), headers=[TRACE])
    (retried,) = harness.run()["retry"]
    assert retried.header(policy.TARGET_TOPIC) == "send-requested" and retried.header(policy.ATTEMPT) == "1"
    assert retried.header(policy.DUE_MS) == str(int(NOW.timestamp() * 1000) + 2000)  # the delay the error asked for
    harness.release(retried)
    out = harness.run()
    assert [r.event["status"] for r in out["receipt"]] == ["DELIVERED"] and TRACE in out["receipt"][0].headers
    assert harness.stage.attempts == [0, 1]  # type: ignore[attr-defined]


def test_retries_end_in_dead_letter_after_max_attempts(harness: StageHarness) -> None:
    harness.feed("send-requested", request("never-0", "never"))
    for attempt in range(1, 6):
        (retried,) = harness.run()["retry"]
        assert retried.header(policy.ATTEMPT) == str(attempt)
        harness.release(retried)
    out = harness.run()
    assert "retry" not in out
    assert out["dead-letter"][0].header(policy.ERROR_MESSAGE) == "gave up after 5 retries: provider busy"
    assert out["receipt"][0].event["status"] == "FAILED"


def test_retry_until_caps_the_delay_at_the_deadline_whatever_the_attempt() -> None:
    harness = StageHarness(ScriptedStage(), policy.RetryPolicy(max_attempts=1, base_delay_s=60, jitter=0.0), clock=lambda: NOW)
    harness.feed("send-requested", request("until-0", "until"), headers=[(policy.ATTEMPT, b"7")])
    (retried,) = harness.run()["retry"]
    assert retried.header(policy.ATTEMPT) == "8"
    assert retried.header(policy.DUE_MS) == str(int((NOW + timedelta(seconds=30)).timestamp() * 1000))


def test_a_deferred_output_waits_in_its_delay_topic(harness: StageHarness) -> None:
    harness.feed("send-requested", request("m-2", "tomorrow"))
    out = harness.run()
    assert "receipt" not in out
    (waiting,) = out["scheduled-transactional"]
    assert waiting.header(policy.TARGET_TOPIC) == "receipt"
    assert waiting.header(policy.DUE_MS) == str(int((NOW + timedelta(days=1)).timestamp() * 1000))
    assert waiting.event["status"] == "DELIVERED"


def test_side_outputs_go_with_the_next_batch_and_a_misfit_is_kept_as_json(harness: StageHarness) -> None:
    stage: ScriptedStage = harness.stage  # type: ignore[assignment]
    harness.feed("send-requested", request("side-0", "side"))
    harness.run()
    assert stage.told == []  # nothing was polled with that batch
    out = harness.run()
    (dead,) = out["dead-letter"]
    assert dead.header(policy.SOURCE_OFFSET) == "-1" and dead.event == {"status": "NOT A STATUS"}
    assert stage.told == ["delivered"]


def test_an_aborted_batch_keeps_nothing_and_tells_the_stage(harness: StageHarness) -> None:
    stage: ScriptedStage = harness.stage  # type: ignore[assignment]
    stage.side.append(receipt(request("s-1", "ok")["context"], "+33612345678", "SENT", "scripted", NOW))
    harness.feed("send-requested", request("m-3", "ok"))
    assert harness.run(commit=False) == {}
    assert harness.outputs == {} and stage.told == ["aborted"]


class BatchStage:
    """Processes whole batches (``process_batch``); fails the whole batch when told to."""

    name = "batched"
    inputs = ("send-requested",)

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def process(self, event: Event, meta: RecordMeta) -> Iterable[Output]:
        raise AssertionError("process_batch takes its place")

    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        if self.fail:
            raise ConnectionError("provider down")
        return [[receipt(e["context"], e["recipient"], "SENT", self.name, m.now)] for e, m in items]


@pytest.mark.parametrize("fail", [False, True])
def test_a_batch_stage_answers_per_record_or_fails_each_of_them(fail: bool) -> None:
    harness = StageHarness(BatchStage(fail), clock=lambda: NOW)
    for i in range(3):
        harness.feed("send-requested", request(f"b-{i}", "ok"))
    out = harness.run()
    if fail:
        assert [d.header(policy.ERROR_CLASS) for d in out["dead-letter"]] == ["ConnectionError"] * 3
    else:
        assert [r.event["context"]["message_id"] for r in out["receipt"]] == ["b-0", "b-1", "b-2"]


class RawStage:
    """Reads a topic without a value schema: the event is the record's bytes and headers."""

    name = "raw"
    inputs = ("retry",)

    def __init__(self) -> None:
        self.seen: list[Event] = []

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        self.seen.append(event)
        return []


def test_a_topic_without_a_value_schema_gives_its_bytes_and_headers() -> None:
    stage = RawStage()
    harness = StageHarness(stage, clock=lambda: NOW)
    harness.feed("retry", b"\x00anything", headers=[(policy.DUE_MS, b"5")])
    assert harness.run() == {}
    assert stage.seen == [{"value": b"\x00anything", "headers": [(policy.DUE_MS, b"5")]}]
