"""Numbers erased on request: a salted key, and the consent stage suppressing them on every lane before anything else."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import SecretStr

from common.config import Settings
from processors.consent.suppressions import BUILT_IN_SALT, Suppressions, entry, salt, suppression_key
from processors.rules.consent import consent_key
from processors.runtime.stage import RecordMeta
from tests.processors.consent.conftest import consent_stage

E164 = "+33612345678"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def meta() -> RecordMeta:
    return RecordMeta("send-requested", 0, 0, E164, NOW)


def test_the_key_is_the_salted_hash_never_the_number() -> None:
    key = suppression_key("pepper", E164)
    assert key == hashlib.sha256(f"pepper|{E164}".encode()).hexdigest() and E164 not in key
    assert key != suppression_key("other", E164) != suppression_key("pepper", "+33612345679")
    assert salt(Settings()) == BUILT_IN_SALT
    assert salt(Settings(suppression_salt=SecretStr("s3cret"))) == "s3cret"
    assert E164 not in str(entry(NOW, "ticket-42"))


def test_an_erased_number_is_suppressed_on_every_lane_even_with_an_opt_in(request_event: Callable[..., dict[str, Any]]) -> None:
    table = {suppression_key("s", E164): entry(NOW, None)}
    opted_in = {consent_key(E164, "promotions"): {"e164": E164, "subscription_group": "promotions", "status": "OPTED_IN",
                                                   "basis": "MARKETING", "source": "form", "evidence": None, "changed_at": NOW}}
    for event in (request_event(), request_event(lane="MARKETING", subscription_group="promotions", recipient="06 12 34 56 78",
                                                 default_region="FR")):
        [out] = consent_stage(opted_in, suppressions=Suppressions(table, "s")).process(event, meta())
        assert (out.topic, out.value["status"], out.value["reason"]) == ("receipt", "SUPPRESSED", "erased_on_request")
        assert "never messaged again" in out.value["detail"]
    other = consent_stage(opted_in, suppressions=Suppressions(table, "s")).process(request_event(recipient="+33612345679"), meta())
    assert [o.topic for o in other] == ["consent-checked"]


def test_without_suppressions_nothing_changes(request_event: Callable[..., dict[str, Any]]) -> None:
    [out] = consent_stage({}).process(request_event(), meta())
    assert out.topic == "consent-checked"
