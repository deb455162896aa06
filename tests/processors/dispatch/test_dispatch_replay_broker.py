"""`courrier replay` into dispatch after an incident, through the broker and the SMSC: the whole range goes back, and
only what never left is submitted; with --force the rest goes again once, and its receipts say so."""
from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from confluent_kafka import Consumer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config
from courrier import replay_copy
from courrier.replay import Request
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.stage import DispatchStage
from processors.rules.replay import FORCED_RESEND
from dispatch_broker import Counted, Outcomes, publish, rendered, running, smpp_factory  # noqa: I001 (same folder)


def otps(prefix: str, first: int, count: int) -> list[dict]:
    return [rendered(f"{prefix}-{i}", f"+336124{i:05d}", "COURRIER", rate=100.0, lane="TRANSACTIONAL", text=f"Code {i}")
            for i in range(first, first + count)]


def dispatch(settings: Settings) -> tuple[DispatchStage, list[Counted]]:
    made: list[Counted] = []
    return DispatchStage(smpp_factory(settings, made), SubmissionLedger(settings), consents={}, campaigns={}), made


def skip_to_the_end(settings: Settings) -> None:
    """The incident: dispatch's consumer group moved past records it never read (an operator's reset, a lost batch)."""
    physical = settings.topic("rendered")
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}dispatch-rendered"))
    try:
        partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
        ends = [TopicPartition(physical, p, consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1]) for p in partitions]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def until(outcomes: Outcomes, done, timeout_s: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = outcomes.wait({f"never-{uuid.uuid4()}"}, timeout_s=0.5)  # reads what arrived, waits for nothing in particular
        if done(found):
            return found
    return found


def kinds(found: dict, message_id: str) -> list[str]:
    return [topic if topic == "dispatched" else f"{value['status']}:{value['reason']}" for topic, value in found.get(message_id, [])]


def test_a_replay_after_an_incident_sends_only_what_never_left_and_force_sends_again_saying_so(topic_settings: Settings) -> None:
    settings = topic_settings
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    sent, lost = otps("sent", 0, 5), otps("lost", 5, 5)
    sent_ids, lost_ids = [e["context"]["message_id"] for e in sent], [e["context"]["message_id"] for e in lost]
    outcomes = Outcomes(settings)
    try:
        first, made = dispatch(settings)
        with running(settings, first, scheduler=False):
            publish(settings, "rendered", sent)
            until(outcomes, lambda f: all(kinds(f, m) == ["dispatched"] for m in sent_ids))
        publish(settings, "rendered", lost)
        skip_to_the_end(settings)
        assert sorted(m for _t, m, _s in made[0].handed) == sorted(sent_ids)

        whole = Request(topic="rendered", start=before.isoformat(), end="now", into="dispatch")
        assert replay_copy.copy(settings, replay_copy.plan(settings, whole, datetime.now(timezone.utc))).total == 10
        second, made = dispatch(settings)
        with running(settings, second, scheduler=False):
            found = until(outcomes, lambda f: all(kinds(f, m) == ["dispatched"] * 2 for m in sent_ids)
                          and all(kinds(f, m) == ["dispatched"] for m in lost_ids))
        assert sorted(m for _t, m, _s in made[0].handed) == sorted(lost_ids), "only what never left is submitted"
        assert all(kinds(found, m) == ["dispatched", "dispatched"] for m in sent_ids), "the others are announced again"

        again = sent[0]
        forced = Request(topic="rendered", start=before.isoformat(), end="now", into="dispatch", force=True,
                         filters=(f"recipient={again['recipient']['e164']}",))
        plan = replay_copy.plan(settings, forced, datetime.now(timezone.utc))
        assert replay_copy.copy(settings, plan).total == 2, "the original and the first replay's copy"
        third, made = dispatch(settings)
        with running(settings, third, scheduler=False):
            until(outcomes, lambda f: f"SENT:{FORCED_RESEND}" in kinds(f, sent_ids[0]))
            time.sleep(2.0)  # the second copy: announced again from the resend's own ledger record, or retried (same batch)
            found = until(outcomes, lambda f: True)
    finally:
        outcomes.close()
    assert [m for _t, m, _s in made[0].handed] == [sent_ids[0]], "sent again once, though the range held it twice"
    # dispatched and receipt are two topics, read in no particular order between them
    outcomes_of = Counter(kinds(found, sent_ids[0]))
    assert outcomes_of[f"SENT:{FORCED_RESEND}"] == 1 and set(outcomes_of) == {"dispatched", f"SENT:{FORCED_RESEND}"}, outcomes_of
    assert outcomes_of["dispatched"] in (3, 4), "the resend's, and the second copy's announced again (unless it was retried)"
    [note] = [v for t, v in found[sent_ids[0]] if t == "receipt"]
    assert plan.replay_id in note["detail"] and note["stage"] == "dispatch" and not note["terminal"]
