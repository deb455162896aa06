"""A batch released at its senders' pace, on a fake clock: waves, holds, deferrals in order, and the last check at submit."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Sequence

import pytest

from processors.dispatch.pacing import Pacer, PacingLimits
from processors.dispatch.provider import Submission, SubmitResult
from processors.dispatch.stage import DispatchStage
from processors.runtime.stage import RecordMeta
from test_dispatch_stage import MemoryLedger  # noqa: I001 (same folder)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
E164 = "+33612345678"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.on_sleep = lambda: None

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.on_sleep()


class TimedProvider:
    """Accepts everything; remembers when (on the fake clock) each message was handed over."""

    name = "timed"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.handed: list[tuple[float, str]] = []

    def open(self) -> None: ...

    def close(self) -> None: ...

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        self.handed.extend((self.clock.t, s.message_id) for s in submissions)
        return [SubmitResult(s.message_id, True, [f"p-{s.message_id}"], None, False, None) for s in submissions]


def rendered(message_id: str, sender_id: str = "SLOW", rate: float = 2.0, lane: str = "MARKETING", segments: int = 1) -> dict:
    return {
        "context": {"message_id": message_id, "idempotency_key": None, "campaign_id": "spring" if lane == "MARKETING" else None,
                    "variant": None, "lane": lane, "subscription_group": "promotions" if lane == "MARKETING" else None,
                    "requested_at": NOW - timedelta(seconds=5), "source": "test"},
        "recipient": {"e164": E164, "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "channel": "SMS", "fallback_reason": None,
        "sender": {"sender_id": sender_id, "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": rate},
        "template_id": "promo", "sms": {"text": "Sale", "encoding": "GSM7", "segments": segments, "units": 4},
        "rcs_json": None, "media_urls": [], "expires_at": None,
    }


def batch(events: list[dict], clock: FakeClock) -> list[tuple[dict, RecordMeta]]:
    now = NOW + timedelta(seconds=clock.t)
    return [(e, RecordMeta("rendered", 0, i, e["sender"]["sender_id"], now)) for i, e in enumerate(events)]


OPTED_IN = {f"{E164}|promotions": {"e164": E164, "subscription_group": "promotions", "status": "OPTED_IN", "basis": "MARKETING",
                                   "source": "form", "evidence": None, "changed_at": NOW - timedelta(days=1)}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def paced_stage(clock: FakeClock, consents: dict | None = None, pacer: Pacer | None = None, **options) -> tuple[DispatchStage, TimedProvider]:
    provider = TimedProvider(clock)
    stage = DispatchStage(lambda _r, _i: provider, MemoryLedger(), consents=OPTED_IN if consents is None else consents,
                          pacer=pacer or Pacer(PacingLimits({"ALPHANUMERIC": 1000})), hold_s=1.0, clock=clock, sleep=clock.sleep,
                          **options)
    stage.open()
    return stage, provider


def test_a_slow_sender_is_spaced_while_a_fast_one_goes_at_once(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock)
    events = [rendered(f"s{i}") for i in range(3)] + [rendered(f"f{i}", "FAST", 1000.0) for i in range(3)]
    results = stage.process_batch(batch(events, clock))
    assert all(r[0].topic == "dispatched" for r in results)
    handed = dict((m, t) for t, m in provider.handed)
    assert [handed[f"f{i}"] for i in range(3)] == [0.0, 0.0, 0.0]
    assert [handed[f"s{i}"] for i in range(3)] == pytest.approx([0.0, 0.5, 1.0])


class SlowLedger(MemoryLedger):
    """Each lookup costs 10 ms on the fake clock, as looking up unknown outcomes after a crash does on a real one."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def state(self, message_id: str) -> dict | None:
        self.clock.t += 0.01
        return super().state(message_id)


@pytest.mark.parametrize("paced", [False, True])
def test_a_batch_that_took_longer_than_the_hold_to_plan_still_sends_what_its_budgets_take_now(clock: FakeClock, paced: bool) -> None:
    provider = TimedProvider(clock)
    stage = DispatchStage(lambda _r, _i: provider, SlowLedger(clock), consents=OPTED_IN, hold_s=1.0, clock=clock, sleep=clock.sleep,
                          pacer=Pacer(PacingLimits({"ALPHANUMERIC": 1000})) if paced else None)
    stage.open()
    events = [rendered(f"m{i}", "FAST", 1000.0) for i in range(300)]  # 3 s of lookups, three times the hold
    results = stage.process_batch(batch(events, clock))
    assert [r for r in results if not isinstance(r, list) or r[0].topic != "dispatched"] == []
    assert len(provider.handed) == 300


def test_segments_count_not_messages(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock)
    stage.process_batch(batch([rendered("long", rate=4.0, segments=3), rendered("next", rate=4.0)], clock))
    assert [t for t, _m in provider.handed] == pytest.approx([0.0, 0.75])


def deferred_by(result, batch_started: float) -> float:
    """How long after its batch started a deferred message is due back (it is its own output, through ``scheduled``)."""
    [output] = result
    assert output.topic == "rendered" and output.key == "SLOW" and output.deliver_at is not None
    return (output.deliver_at - (NOW + timedelta(seconds=batch_started))).total_seconds()


def test_what_a_batch_cannot_hold_goes_back_to_its_topic_in_order_at_its_slots(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock)
    results = stage.process_batch(batch([rendered(f"m{i}") for i in range(6)], clock))
    assert [m for _t, m in provider.handed] == ["m0", "m1", "m2"]
    # slots 1.5, 2.0, 2.5 s; each comes back half a hold (0.5 s) early to be paced precisely
    assert [deferred_by(r, 0.0) for r in results[3:]] == pytest.approx([1.0, 1.5, 2.0])
    assert [r[0].value["context"]["message_id"] for r in results[3:]] == ["m3", "m4", "m5"]


def test_later_messages_of_a_deferred_sender_wait_behind_the_deferred_ones(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock)
    stage.process_batch(batch([rendered(f"m{i}") for i in range(4)], clock))  # m3 deferred to its 1.5 s slot
    clock.t = 1.1
    [fresh, other] = stage.process_batch(batch([rendered("fresh"), rendered("other", "FAST", 1000.0)], clock))
    assert deferred_by(fresh, 1.1) == pytest.approx(2.0 - 0.5 - 1.1)  # after m3's slot
    assert other[0].topic == "dispatched"  # another sender is not held behind it
    clock.t = 1.2
    [back] = stage.process_batch(batch([rendered("m3")], clock))  # m3 comes back: it goes, at its slot
    assert back[0].topic == "dispatched"
    assert provider.handed[-1] == (pytest.approx(1.5), "m3")


def test_one_back_before_the_one_ahead_of_it_waits_again(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock)
    stage.process_batch(batch([rendered(f"m{i}") for i in range(5)], clock))  # m3 due at 1.5, m4 at 2.0
    clock.t = 1.6
    [early] = stage.process_batch(batch([rendered("m4")], clock))  # m4 back while m3 is still out
    assert early[0].topic == "rendered" and deferred_by(early, 1.6) >= 0.2
    clock.t = 1.7
    [m3] = stage.process_batch(batch([rendered("m3")], clock))
    assert m3[0].topic == "dispatched" and [m for _t, m in provider.handed][-1] == "m3"


def test_an_otp_never_queues_behind_a_campaigns_deferred_messages(clock: FakeClock) -> None:
    pacer = Pacer(PacingLimits({"ALPHANUMERIC": 1000}))
    marketing, provider = paced_stage(clock, pacer=pacer)
    otp_lane, otp_provider = paced_stage(clock, pacer=pacer, inputs=("rendered-transactional",), priority=True)
    marketing.process_batch(batch([rendered(f"m{i}", "SHARED", 10.0) for i in range(30)], clock))  # 20 deferred
    clock.t = 1.05
    [otp] = otp_lane.process_batch(batch([rendered("otp", "SHARED", 10.0, lane="TRANSACTIONAL")], clock))
    assert otp[0].topic == "dispatched" and otp_provider.handed[0][0] <= 1.1 + 1e-9


def test_an_opt_out_that_lands_during_the_hold_stops_the_rest(clock: FakeClock) -> None:
    consents = dict(OPTED_IN)
    stage, provider = paced_stage(clock, consents)

    def stop_arrives() -> None:
        consents[f"{E164}|promotions"] = {**OPTED_IN[f"{E164}|promotions"], "status": "OPTED_OUT", "source": "keyword"}

    clock.on_sleep = stop_arrives
    confirmation = rendered("confirmation", lane="TRANSACTIONAL")
    results = stage.process_batch(batch([rendered("m0"), rendered("m1"), rendered("m2"), confirmation], clock))
    assert [m for _t, m in provider.handed] == ["m0", "confirmation"]
    assert [(r[0].value["status"], r[0].value["reason"]) for r in results[1:3]] == [("SUPPRESSED", "opted_out")] * 2
    assert results[3][0].topic == "dispatched"


def test_a_cancelled_campaign_stops_what_has_not_left(clock: FakeClock) -> None:
    campaigns: dict = {}
    stage, provider = paced_stage(clock, campaigns=campaigns)
    clock.on_sleep = lambda: campaigns.update(spring={"campaign_id": "spring", "state": "CANCELLED", "changed_by": None,
                                                      "changed_at": NOW})
    results = stage.process_batch(batch([rendered("m0"), rendered("m1")], clock))
    assert [m for _t, m in provider.handed] == ["m0"]
    assert (results[1][0].value["status"], results[1][0].value["reason"]) == ("SUPPRESSED", "campaign_cancelled")


def test_without_a_pacer_everything_leaves_in_one_wave(clock: FakeClock) -> None:
    provider = TimedProvider(clock)
    stage = DispatchStage(lambda _r, _i: provider, MemoryLedger(), consents=OPTED_IN, clock=clock, sleep=clock.sleep)
    stage.open()
    stage.process_batch(batch([rendered(f"m{i}") for i in range(50)], clock))
    assert {t for t, _m in provider.handed} == {0.0} and len(provider.handed) == 50


def test_a_sender_with_no_known_limit_fails_alone(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock, pacer=Pacer(PacingLimits({"SHORT_CODE": 100})))
    bad = rendered("bad", rate=0.0)
    results = stage.process_batch(batch([bad, rendered("good", rate=5.0)], clock))
    assert isinstance(results[0], ValueError) and results[1][0].topic == "dispatched"


def test_a_deferred_message_that_expired_holds_no_one_back(clock: FakeClock) -> None:
    stage, provider = paced_stage(clock)
    stage.process_batch(batch([rendered(f"m{i}") for i in range(5)], clock))  # m3 due at 1.5, m4 at 2.0
    clock.t = 1.6
    expired = {**rendered("m3"), "expires_at": NOW}
    [gone] = stage.process_batch(batch([expired], clock))
    assert (gone[0].value["status"], gone[0].value["reason"]) == ("EXPIRED", "validity_elapsed")
    [m4] = stage.process_batch(batch([rendered("m4")], clock))
    assert m4[0].topic == "dispatched" and [m for _t, m in provider.handed][-1] == "m4"


class CountingLedger(MemoryLedger):
    """Remembers how many SUBMITTING records each write carried."""

    def __init__(self) -> None:
        super().__init__()
        self.submitting: list[int] = []

    def write(self, records) -> None:
        records = list(records)
        if records and records[0]["state"] == "SUBMITTING":
            self.submitting.append(len(records))
        super().write(records)


def test_one_ledger_write_covers_at_most_a_wave_so_a_crash_leaves_at_most_one_wave_unknown(clock: FakeClock) -> None:
    provider, ledger = TimedProvider(clock), CountingLedger()
    stage = DispatchStage(lambda _r, _i: provider, ledger, consents=OPTED_IN, hold_s=1.0, clock=clock, sleep=clock.sleep,
                          pacer=None, wave_size=50)
    stage.open()
    results = stage.process_batch(batch([rendered(f"m{i}", "FAST", 1000.0) for i in range(120)], clock))
    assert all(r[0].topic == "dispatched" for r in results)
    assert ledger.submitting == [50, 50, 20] and [m for _t, m in provider.handed] == [f"m{i}" for i in range(120)]
