"""Pacing through the broker against the SMSC: a sender limited to 5 segments per second, loaded with more than it may
send, never exceeds 5 segments in any one-second window, and uses at least 98% of its budget. What is counted is
what the stage handed to the provider (a wrapper around it), never the test's clock of publishing."""
from __future__ import annotations

from common.config import Settings
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.pacing import Pacer, PacingLimits
from processors.dispatch.stage import DispatchStage
from dispatch_broker import Counted, Outcomes, publish, rendered, running, smpp_factory  # noqa: I001 (same folder)

LIMIT = 5.0
LONG = "Spring sale! " * 18  # 234 characters: two GSM-7 segments


def worst_window(handed: list[tuple[float, str, int]]) -> int:
    """The most segments handed over in any one-second window [t, t + 1) (the worst windows start at a submit)."""
    return max(sum(n for t, _m, n in handed if start <= t < start + 1.0) for start, _m, _n in handed)


def paced_run(settings: Settings, texts: list[str]) -> list[tuple[float, str, int]]:
    """Publish one message per text for sender PACED (5 segments/s) at once; what the provider was handed, in time order."""
    made: list[Counted] = []
    stage = DispatchStage(smpp_factory(settings, made), SubmissionLedger(settings), consents={}, campaigns={},
                          pacer=Pacer(PacingLimits({"ALPHANUMERIC": 30})), hold_s=1.0)
    ids = [f"paced-{i:03d}" for i in range(len(texts))]
    events = [rendered(m, f"+336123{i:05d}", "PACED", rate=LIMIT, lane="TRANSACTIONAL", text=text)
              for i, (m, text) in enumerate(zip(ids, texts))]
    outcomes = Outcomes(settings)
    try:
        with running(settings, stage):
            publish(settings, "rendered", events)
            found = outcomes.wait(set(ids), timeout_s=180)
    finally:
        outcomes.close()
    assert sorted(m for m in ids if [t for t, _v in found.get(m, [])] != ["dispatched"]) == []
    handed = sorted(made[0].handed)
    assert [m for _t, m, _n in handed] == ids, "each message submitted once, in the order it was rendered"
    return handed


def test_a_loaded_sender_gets_its_limit_and_never_more(topic_settings: Settings) -> None:
    handed = paced_run(topic_settings, ["Your code is 1234"] * 100)  # 20 s of traffic published at once
    assert worst_window(handed) <= LIMIT
    first, last = handed[0][0], handed[-1][0]
    achieved = sum(n for t, _m, n in handed if t < last) / (last - first)
    print(f"pacing: {achieved:.3f} segments/s for a limit of {LIMIT:g} ({achieved / LIMIT:.1%}); worst 1 s window {worst_window(handed)}")
    gaps = sorted((b[0] - a[0], a[1]) for a, b in zip(handed, handed[1:]))[-3:]
    assert achieved >= 0.98 * LIMIT, f"the longest gaps between submits: {gaps}"


def test_long_messages_count_their_segments(topic_settings: Settings) -> None:
    handed = paced_run(topic_settings, ["Your code is 1234", "Your code is 5678", LONG] * 8)  # 32 segments
    assert sum(n for _t, _m, n in handed) == 32
    assert worst_window(handed) <= LIMIT
