"""Never twice, through the real broker: a new dispatch process learns from the submissions topic what was handed over.

The SUBMITTING record is written before the submit; the SUBMITTED/FAILED records are outputs of the batch, durable
only when the runtime commits it. So the tests play the runtime: a batch "committed" has its ``submissions`` outputs
produced, a batch cut by a crash has none.
"""
from __future__ import annotations

from confluent_kafka import Producer

from common.config import Settings
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.provider import SubmitResult
from test_dispatch_stage import ScriptedProvider, meta, rendered  # noqa: I001 (same folder)
from common.errors import TransientError
from common.kafka_clients import producer_config
from processors.dispatch.stage import DispatchStage
from processors.runtime.serde import AvroSerde


def dispatch_process(settings: Settings, answers: dict[str, SubmitResult] | None = None) -> tuple[DispatchStage, list[ScriptedProvider]]:
    made: list[ScriptedProvider] = []

    def factory(on_report, on_inbound):
        made.append(ScriptedProvider(on_report, on_inbound, answers))
        return made[-1]

    stage = DispatchStage(factory, SubmissionLedger(settings))
    stage.open()
    return stage, made


def commit(settings: Settings, results: list) -> None:
    """What the runtime's transaction makes durable of a batch's ledger records."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for result in results:
        for output in result if isinstance(result, list) else []:
            if output.topic == "submissions":  # bytes go as they are (the ledger encodes its own records), as in routing
                value = output.value if isinstance(output.value, bytes) else serde.encode("submissions", output.value)
                producer.produce(settings.topic("submissions"), key=output.key, value=value)
    assert producer.flush(30) == 0


def test_a_restarted_dispatch_resubmits_nothing_it_handed_over(topic_settings: Settings) -> None:
    lost = "+33600000009"
    first, first_provider = dispatch_process(topic_settings, {lost: SubmitResult("lost", False, [], None, True, "connection_lost")})
    batch = [(rendered(f"m{i}", f"+3361234567{i}"), meta(i)) for i in range(5)] + [(rendered("lost", lost), meta(5))]
    results = first.process_batch(batch)
    commit(topic_settings, results)
    first.close()  # the process dies; only the submissions topic remembers
    assert isinstance(results[-1], TransientError) and len(first_provider[0].submitted) == 6

    second, second_provider = dispatch_process(topic_settings)
    try:
        replayed = second.process_batch(batch)
    finally:
        second.close()
    assert second_provider[0].submitted == []
    assert [r[0].value["provider_message_ids"] for r in replayed[:5]] == [[f"p-m{i}"] for i in range(5)]
    assert (replayed[5][0].value["status"], replayed[5][0].value["reason"]) == ("FAILED", "submission_outcome_unknown")


def test_a_crash_between_the_submit_and_the_commit_leaves_the_wave_unknown_never_resent(topic_settings: Settings) -> None:
    first, first_provider = dispatch_process(topic_settings)
    batch = [(rendered(f"m{i}", f"+3361234567{i}"), meta(i)) for i in range(3)]
    assert all(isinstance(r, list) for r in first.process_batch(batch))  # submitted; the batch never commits
    first.close()
    assert len(first_provider[0].submitted) == 3

    second, second_provider = dispatch_process(topic_settings)
    try:
        replayed = second.process_batch(batch)
    finally:
        second.close()
    assert second_provider[0].submitted == [], "a provider that cannot be asked (SMPP) is never sent the message again"
    assert [(r[0].value["status"], r[0].value["reason"]) for r in replayed] == [("FAILED", "submission_outcome_unknown")] * 3
