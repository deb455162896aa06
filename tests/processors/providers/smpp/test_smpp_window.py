"""The submission window without a socket: limits, answers, throttling, lost links and per-destination order."""
from __future__ import annotations

from processors.dispatch.provider import Submission
from processors.providers.smpp.codec import encode_message, source_address
from processors.providers.smpp.window import FIRST_PAUSE_S, Job, Pace, Window


def job(index: int, destination: str = "", text: str = "hi", sender_type: str = "LONG_CODE") -> Job:
    submission = Submission(f"m{index}", "+33757000101", sender_type, destination or f"+3361234{index:04d}", text, "GSM7")
    return Job.of(index, submission, source_address(sender_type, submission.sender_id), encode_message(text, "GSM7"))


class Wire:
    """Plays the provider's part: numbers what the window hands out, as sends."""

    def __init__(self, window: Window, generation: int = 1, bind: int = 0) -> None:
        self.window, self.generation, self.bind, self.sequence = window, generation, bind, 0
        self.sent: dict[int, tuple[str, int]] = {}

    def send_all(self, now: float = 0.0) -> list[int]:
        sequences = []
        while (picked := self.window.next_part(now, self.bind)) is not None:
            self.sequence += 1
            self.window.sent(self.sequence, *picked, (self.bind, self.generation))
            self.sent[self.sequence] = (picked[0].submission.message_id, picked[1])
            sequences.append(self.sequence)
        return sequences


def test_no_more_than_the_window_is_outstanding() -> None:
    window = Window([job(i) for i in range(25)], [Pace(10)])
    wire = Wire(window)
    assert len(wire.send_all()) == 10
    window.answered(1, 0, "id-1", now=0.0)
    assert len(wire.send_all()) == 1 and len(window.in_flight) == 10


def test_answers_in_any_order_give_ids_in_part_order() -> None:
    window = Window([job(0, text="x" * 400)], [Pace(10)])
    sequences = Wire(window).send_all()
    assert len(sequences) == 3
    for sequence in reversed(sequences):
        window.answered(sequence, 0, f"id-{sequence}", now=0.0)
    [result] = window.results(link_up=True)
    assert result.accepted and result.provider_message_ids == ["id-1", "id-2", "id-3"] and not result.transient


def test_a_throttled_part_goes_again_first_after_a_pause_that_doubles() -> None:
    window = Window([job(i) for i in range(3)], [Pace(1)])
    wire = Wire(window)
    assert wire.send_all(now=0.0) == [1]
    window.answered(1, 0x58, "", now=10.0)
    assert wire.send_all(now=10.0) == [] and window.paces[0].paused_until == 10.0 + FIRST_PAUSE_S
    assert wire.send_all(now=10.0 + FIRST_PAUSE_S) == [2] and wire.sent[2] == ("m0", 0)
    window.answered(2, 0x14, "", now=11.0)  # message queue full counts as throttling too
    assert window.paces[0].paused_until == 11.0 + 2 * FIRST_PAUSE_S
    wire.send_all(now=12.0)
    window.answered(3, 0, "id-m0", now=12.0)
    assert window.paces[0].pause_s == FIRST_PAUSE_S  # an accepted submit ends the slowdown
    assert wire.send_all(now=12.0) == [4] and wire.sent[4] == ("m1", 0)


def test_throttles_already_in_flight_do_not_lengthen_the_pause() -> None:
    window = Window([job(i) for i in range(5)], [Pace(5)])
    Wire(window).send_all()
    for sequence in range(1, 6):
        window.answered(sequence, 0x58, "", now=1.0)
    assert window.paces[0].paused_until == 1.0 + FIRST_PAUSE_S


def test_still_throttled_at_the_deadline_is_transient() -> None:
    window = Window([job(0)], [Pace(1)])
    Wire(window).send_all()
    window.answered(1, 0x58, "", now=0.0)
    [result] = window.results(link_up=True)
    assert (result.accepted, result.transient, result.error_code, result.detail) == (False, True, "0x00000058", "ESME_RTHROTTLED")


def test_a_refusal_is_permanent_and_stops_the_other_parts() -> None:
    window = Window([job(0, text="x" * 400), job(1)], [Pace(1)])
    wire = Wire(window)
    wire.send_all()
    window.answered(1, 0x0B, "", now=0.0)
    wire.send_all()
    assert [m for m, _part in wire.sent.values()] == ["m0", "m1"]
    window.answered(2, 0, "id-m1", now=0.0)
    assert window.done()
    refused, accepted = window.results(link_up=True)
    assert (refused.accepted, refused.transient, refused.error_code, refused.detail) == (
        False, False, "0x0000000B", "ESME_RINVDSTADR")
    assert accepted.accepted


def test_parts_lost_with_their_link_are_transient_and_never_sent_again() -> None:
    window = Window([job(i) for i in range(4)], [Pace(2)])
    wire = Wire(window, generation=1)
    wire.send_all()
    window.answered(1, 0, "id-m0", now=0.0)
    window.link_lost({0: None})
    wire.generation = 2
    wire.send_all()
    assert [m for m, _part in wire.sent.values()] == ["m0", "m1", "m2", "m3"]
    window.answered(3, 0, "id-m2", now=0.0)
    window.link_lost({0: 2})  # the new link is fine: nothing more is lost
    results = window.results(link_up=True)
    assert [(r.accepted, r.transient, r.detail) for r in results] == [
        (True, False, None), (False, True, "connection_lost"), (True, False, None), (False, True, "timeout")]


def test_messages_to_one_destination_go_one_after_the_other() -> None:
    same = "+33612345678"
    window = Window([job(0, same), job(1, same), job(2)], [Pace(10)])
    wire = Wire(window)
    assert [wire.sent[s][0] for s in wire.send_all()] == ["m0", "m2"]
    window.answered(1, 0x58, "", now=0.0)
    assert wire.send_all(now=FIRST_PAUSE_S) == [3] and wire.sent[3][0] == "m0"  # the retry, not m1
    window.answered(3, 0, "id-m0", now=1.0)
    assert [wire.sent[s][0] for s in wire.send_all(now=1.0)] == ["m1"]


def test_an_unsendable_submission_fails_without_being_sent() -> None:
    submission = Submission("m0", "agent", "RCS_AGENT", "+33612345678", "hi", "GSM7")
    window = Window([Job.refused(0, submission, "unsupported_sender_type:RCS_AGENT"), job(1, "+33612345678")], [Pace(5)])
    wire = Wire(window)
    assert [wire.sent[s][0] for s in wire.send_all()] == ["m1"]  # not sent, and not holding up its destination
    [refused, _pending] = window.results(link_up=True)
    assert (refused.accepted, refused.transient, refused.detail) == (False, False, "unsupported_sender_type:RCS_AGENT")


def test_unsent_messages_without_a_link_are_not_bound() -> None:
    window = Window([job(0)], [Pace(1)])
    [result] = window.results(link_up=False)
    assert (result.accepted, result.transient, result.detail) == (False, True, "not_bound")


def test_an_answer_from_an_earlier_run_is_not_this_runs() -> None:
    window = Window([job(0)], [Pace(1)])
    assert window.answered(99, 0, "late", now=0.0) is False


def test_a_system_error_is_transient_and_not_sent_again_in_the_run() -> None:
    window = Window([job(0), job(1)], [Pace(2)])
    wire = Wire(window)
    wire.send_all()
    window.answered(1, 0x08, "", now=0.0)  # ESME_RSYSERR: the SMSC did not take it; the record is retried later
    window.answered(2, 0x64, "", now=0.0)  # ESME_RX_T_APPN likewise
    assert window.done() and wire.send_all() == []
    assert [(r.accepted, r.transient, r.error_code, r.detail) for r in window.results(link_up=True)] == [
        (False, True, "0x00000008", "ESME_RSYSERR"), (False, True, "0x00000064", "ESME_RX_T_APPN")]


def test_throttling_halves_the_window_once_per_pause_and_acceptances_grow_it_back() -> None:
    pace = Pace(8)
    window = Window([job(i) for i in range(20)], [pace])
    wire = Wire(window)
    assert len(wire.send_all(now=0.0)) == 8
    for sequence in range(1, 9):  # the whole window throttled at once: one slowdown, not eight
        window.answered(sequence, 0x58, "", now=1.0)
    assert pace.size == 4 and len(wire.send_all(now=1.0 + FIRST_PAUSE_S)) == 4
    window.answered(9, 0x14, "", now=2.0)
    assert pace.size == 2
    for sequence in range(10, 13):
        window.answered(sequence, 0, f"id-{sequence}", now=3.0)
    assert pace.pause_s == FIRST_PAUSE_S and 2 < pace.current < 4  # additive increase: about one per window accepted
    while pace.size < 8:
        pace.accepted()
    assert pace.size == 8 and pace.current == 8.0  # never past the configured window


def test_the_slower_pace_outlives_the_run() -> None:
    pace = Pace(10)
    first = Window([job(0)], [pace])
    Wire(first).send_all(now=0.0)
    first.answered(1, 0x58, "", now=0.0)
    second = Window([job(i) for i in range(1, 20)], [pace])  # the next submit_many on the same bind
    assert Wire(second).send_all(now=0.0) == [] and len(Wire(second).send_all(now=FIRST_PAUSE_S)) == 5


def test_each_bind_has_its_own_window_and_pace() -> None:
    paces = [Pace(2), Pace(3)]
    window = Window([job(i) for i in range(10)], paces)
    first, second = Wire(window, bind=0), Wire(window, bind=1)
    second.sequence = 100  # sequences are the provider's, unique across binds
    assert len(first.send_all()) == 2 and len(second.send_all()) == 3
    window.answered(101, 0x58, "", now=1.0)  # the second bind is throttled: only its pace slows down
    assert (paces[0].size, paces[1].size) == (2, 1) and paces[0].paused_until == 0.0
    window.answered(1, 0, "id-1", now=1.0)
    assert len(first.send_all(now=1.0)) == 1 and second.send_all(now=1.0) == []


def test_a_link_lost_fails_only_the_parts_it_carried() -> None:
    window = Window([job(i) for i in range(4)], [Pace(2), Pace(2)])
    first, second = Wire(window, bind=0), Wire(window, bind=1)
    second.sequence = 100
    first.send_all()
    second.send_all()
    window.link_lost({0: 1, 1: None})
    for sequence in (1, 2):
        window.answered(sequence, 0, f"id-{sequence}", now=0.0)
    assert [(r.accepted, r.detail) for r in window.results(link_up=True)] == [
        (True, None), (True, None), (False, "connection_lost"), (False, "connection_lost")]


def test_a_withdrawn_part_never_left_and_goes_again() -> None:
    window = Window([job(0), job(1)], [Pace(2)])
    wire = Wire(window)
    assert wire.send_all() == [1, 2]
    assert window.withdraw(2) and not window.withdraw(2)
    assert wire.send_all() == [3] and wire.sent[3] == ("m1", 0)
    window.answered(1, 0, "id-1", now=0.0)
    window.answered(3, 0, "id-3", now=0.0)
    assert window.done() and all(r.accepted for r in window.results(link_up=True))


def test_after_a_transient_failure_its_destinations_later_messages_are_held() -> None:
    same = "+33612345678"
    window = Window([job(0, same), job(1, same), job(2, same), job(3)], [Pace(10)])
    wire = Wire(window)
    assert [wire.sent[s][0] for s in wire.send_all()] == ["m0", "m3"]
    window.answered(1, 0x08, "", now=0.0)  # ESME_RSYSERR: m0 is retried later, so m1 and m2 must not overtake it
    window.answered(2, 0, "id-m3", now=0.0)
    assert window.done() and wire.send_all() == []
    assert [(r.accepted, r.transient, r.detail) for r in window.results(link_up=True)] == [
        (False, True, "ESME_RSYSERR"), (False, True, "held_for_order"), (False, True, "held_for_order"), (True, False, None)]


def test_a_permanent_refusal_lets_the_next_message_to_its_destination_go() -> None:
    same = "+33612345678"
    window = Window([job(0, same), job(1, same)], [Pace(10)])
    wire = Wire(window)
    wire.send_all()
    window.answered(1, 0x0B, "", now=0.0)
    assert [wire.sent[s][0] for s in wire.send_all()] == ["m1"]


def test_throttled_more_than_the_resends_allowed_ends_transient() -> None:
    window = Window([job(0)], [Pace(1)], throttle_resends=1)
    wire = Wire(window)
    wire.send_all(now=0.0)
    window.answered(1, 0x58, "", now=0.0)
    assert wire.send_all(now=1.0) == [2]
    window.answered(2, 0x58, "", now=1.0)
    assert window.done() and wire.send_all(now=5.0) == []
    [result] = window.results(link_up=True)
    assert (result.accepted, result.transient, result.detail) == (False, True, "ESME_RTHROTTLED")


def test_never_sent_is_not_submitted_and_partly_accepted_is_an_unknown_outcome() -> None:
    window = Window([job(0, text="x" * 400), job(1), job(2)], [Pace(2)])
    wire = Wire(window)
    wire.send_all()  # two of m0's three parts; m1 and m2 wait for room
    window.answered(1, 0, "id-1", now=0.0)
    window.answered(2, 0, "id-2", now=0.0)
    partly, unsent, _ = window.results(link_up=True)
    assert (partly.accepted, partly.transient, partly.detail, partly.provider_message_ids) == (False, True, "timeout", ["id-1", "id-2"])
    assert (unsent.accepted, unsent.transient, unsent.detail) == (False, True, "not_submitted")
    assert window.results(link_up=False, down="provider_auth_failed")[1].detail == "provider_auth_failed"
