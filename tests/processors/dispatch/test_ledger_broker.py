"""Never twice, through the real broker: a new dispatch process learns from the submissions topic what was handed over."""
from __future__ import annotations

from courrier.config import Settings
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.provider import SubmitResult
from test_dispatch_stage import ScriptedProvider, meta, rendered  # noqa: I001 (same folder)
from processors.dispatch.stage import DispatchStage
from processors.runtime.errors import TransientError


def dispatch_process(settings: Settings, answers: dict[str, SubmitResult] | None = None) -> tuple[DispatchStage, list[ScriptedProvider]]:
    made: list[ScriptedProvider] = []

    def factory(on_report, on_inbound):
        made.append(ScriptedProvider(on_report, on_inbound, answers))
        return made[-1]

    stage = DispatchStage(factory, SubmissionLedger(settings))
    stage.open()
    return stage, made


def test_a_restarted_dispatch_resubmits_nothing_it_handed_over(topic_settings: Settings) -> None:
    lost = "+33600000009"
    first, first_provider = dispatch_process(topic_settings, {lost: SubmitResult("lost", False, [], None, True, "connection_lost")})
    batch = [(rendered(f"m{i}", f"+3361234567{i}"), meta(i)) for i in range(5)] + [(rendered("lost", lost), meta(5))]
    results = first.process_batch(batch)
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
