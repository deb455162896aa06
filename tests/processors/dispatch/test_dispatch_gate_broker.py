"""Through the broker: a STOP racing a recipient's in-flight marketing messages. Once the opt-out is in dispatch's
consent table, nothing more leaves for that recipient but the (transactional) confirmation."""
from __future__ import annotations

import time

from common.config import Settings
from courrier.client import CourrierClient
from processors.rules.consent import consent_key
from processors.dispatch.ledger import SubmissionLedger
from processors.dispatch.pacing import Pacer, PacingLimits
from processors.dispatch.stage import DispatchStage
from processors.runtime.table import TopicTable
from dispatch_broker import Counted, Outcomes, publish, rendered, running, smpp_factory  # noqa: I001 (same folder)

E164 = "+33612345678"
GROUP = "promotions"
SENDER = "PROMO"


def wait_for(check, timeout_s: float, step_s: float = 0.001) -> float | None:
    """The monotonic time at which ``check()`` was first seen true, polling every ``step_s``; None after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(step_s)
    return None


def test_after_the_opt_out_is_visible_no_marketing_message_is_submitted(topic_settings: Settings) -> None:
    settings = topic_settings
    client = CourrierClient(settings, source="test")
    client.record_consent(E164, GROUP, True, source="form")
    client.flush()
    consents, campaigns = TopicTable(settings, "consent"), TopicTable(settings, "campaigns")
    consents.start()
    campaigns.start()
    key = consent_key(E164, GROUP)
    assert wait_for(lambda: (consents.get(key) or {}).get("status") == "OPTED_IN", 30, 0.05)
    made: list[Counted] = []
    stage = DispatchStage(smpp_factory(settings, made), SubmissionLedger(settings), consents=consents, campaigns=campaigns,
                          pacer=Pacer(PacingLimits({"ALPHANUMERIC": 30})), hold_s=1.0)
    ids = [f"promo-{i:02d}" for i in range(40)]
    outcomes = Outcomes(settings)
    try:
        with running(settings, stage):
            publish(settings, "rendered", [rendered(m, E164, SENDER, rate=5.0) for m in ids])  # 8 s of sending at 5/s
            assert wait_for(lambda: bool(made) and len(made[0].handed) >= 8, 60, 0.01), "dispatch never started submitting"
            client.record_consent(E164, GROUP, False, source="keyword", evidence="STOP")
            client.flush()
            visible_at = wait_for(lambda: consents[key]["status"] == "OPTED_OUT", 30)
            assert visible_at is not None, "the opt-out never reached dispatch's consent table"
            confirmation = rendered("stop-confirmation", E164, SENDER, rate=5.0, lane="TRANSACTIONAL", text="You will get no more messages")
            publish(settings, "rendered", [confirmation])
            found = outcomes.wait({*ids, "stop-confirmation"}, timeout_s=120)
    finally:
        outcomes.close()
        consents.stop()
        campaigns.stop()

    assert {m: len(found.get(m, [])) for m in ids if len(found.get(m, [])) != 1} == {}, "each message has exactly one outcome"
    dispatched = {m for m in ids if found[m][0][0] == "dispatched"}
    suppressed = {m: found[m][0][1] for m in ids if m not in dispatched}
    handed = {m: t for t, m, _segments in made[0].handed if m in ids}
    assert set(handed) == dispatched  # what was handed to the SMSC is exactly what was announced
    assert max(handed.values()) < visible_at, "a marketing message was submitted after the opt-out was visible"
    assert {(r["status"], r["reason"], r["stage"]) for r in suppressed.values()} == {("SUPPRESSED", "opted_out", "dispatch")}
    assert dispatched and suppressed, "the STOP did not race anything"
    assert found["stop-confirmation"][0][0] == "dispatched"
    assert [t for t, m, _s in made[0].handed if m == "stop-confirmation"][0] > visible_at
