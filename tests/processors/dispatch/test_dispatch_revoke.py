"""Dispatch withdraws an RCS attempt before the SMS fallback its deadline triggered: revoked → the SMS goes; delivered
meanwhile → no SMS, a DELIVERED receipt instead; the provider silent → the SMS goes (and the batch asks it no more);
a fallback a failed report triggered, or a provider without revoke, is never held; each attempt is revoked once.
With the real RBM adapter and its fake too."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Sequence

import pytest
from fastavro.validation import validate

import schemas
from processors import fallback
from processors.dispatch import logic
from processors.dispatch.provider import Submission, SubmitResult
from processors.dispatch.revoke import Revoker
from processors.dispatch.stage import DispatchStage, ProviderSpec
from processors.providers.rbm.adapter import RbmProvider, rbm_message_id
from processors.providers.rbm.fake import FakeRbm, running
from processors.providers.rbm.settings import RbmSettings
from processors.runtime.stage import RecordMeta
from test_dispatch_stage import NOW, VALIDITY, MemoryLedger, rendered  # noqa: I001 (same folder)

PHONE = "+33612345678"
RCS_ID = "m-1"


class RcsProvider:
    """An RCS provider whose revoke answers as scripted (True, False, None, or raises)."""

    name = "rbm"

    def __init__(self, answer: bool | None | Exception = True) -> None:
        self.answer = answer
        self.revoked: list[tuple[str, str]] = []

    def open(self) -> None: ...

    def close(self) -> None: ...

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        return [SubmitResult(s.message_id, True, [f"rbm-{s.message_id}"], None, False, None) for s in submissions]

    def revoke(self, message_id: str, destination: str) -> bool | None:
        self.revoked.append((message_id, destination))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class SmsProvider(RcsProvider):
    name = "sms"

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[Submission] = []

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        self.submitted.extend(submissions)
        return super().submit_many(submissions, timeout_s)


def sms_fallback(reason: str = fallback.NOT_DELIVERED_IN_TIME, message_id: str = RCS_ID, e164: str = PHONE) -> dict:
    rcs = {**rendered(message_id, e164), "channel": "RCS", "rcs_json": '{"text": "Spring sale"}',
           "sms_fallback": {"sender": rendered(message_id)["sender"], "after_s": 300}}
    prepared = fallback.prepared(rcs)
    assert prepared is not None
    return {**prepared, "fallback_reason": reason}


def ledger_with_rcs_attempt(provider: str = "rbm", state: str = "SUBMITTED", message_id: str = RCS_ID) -> MemoryLedger:
    ledger = MemoryLedger()
    ledger.write([logic.ledger_record(message_id, state, provider, [f"rbm-{message_id}"], None, NOW)])
    return ledger


def stage_with(rcs: RcsProvider, ledger: MemoryLedger) -> tuple[DispatchStage, SmsProvider]:
    sms = SmsProvider()
    stage = DispatchStage([ProviderSpec(lambda _r, _i: rcs, frozenset({"RCS"})), ProviderSpec(lambda _r, _i: sms, frozenset({"SMS"}))],
                          ledger, validity=VALIDITY)
    stage.open()
    return stage, sms


def meta(offset: int = 0) -> RecordMeta:
    return RecordMeta("rendered", 0, offset, "COURRIER", NOW)


@pytest.fixture
def fake_rbm() -> Iterator[FakeRbm]:
    with running(FakeRbm("courrier-agent")) as fake:
        yield fake


@pytest.fixture
def rbm(fake_rbm: FakeRbm, tmp_path: Path) -> Iterator[RbmProvider]:
    key = tmp_path / "key.json"
    key.write_text(json.dumps(fake_rbm.account))
    provider = RbmProvider(RbmSettings(agent_id="courrier-agent", service_account_file=key, api_url=fake_rbm.url, request_timeout_s=1.0))
    provider.open()
    yield provider
    provider.close()


def test_a_revoked_rcs_attempt_lets_its_sms_fallback_go() -> None:
    rcs = RcsProvider(True)
    stage, sms = stage_with(rcs, ledger_with_rcs_attempt())
    [outputs] = stage.process_batch([(sms_fallback(), meta())])
    assert rcs.revoked == [(RCS_ID, PHONE)]
    assert [o.topic for o in outputs] == ["dispatched", "rcs-deadline", "submissions"] and sms.submitted[0].message_id == RCS_ID + fallback.SUFFIX


def test_an_rcs_attempt_delivered_meanwhile_keeps_the_sms_back_and_ends_delivered() -> None:
    rcs = RcsProvider(False)
    stage, sms = stage_with(rcs, ledger_with_rcs_attempt())
    [outputs] = stage.process_batch([(sms_fallback(), meta())])
    assert sms.submitted == []
    (delivered,) = outputs
    assert delivered.topic == "receipt" and delivered.key == PHONE
    assert {k: delivered.value[k] for k in ("status", "terminal", "stage", "channel", "provider", "provider_message_id", "reason")} == {
        "status": "DELIVERED", "terminal": True, "stage": "dispatch", "channel": "RCS", "provider": "rbm",
        "provider_message_id": f"rbm-{RCS_ID}", "reason": "rcs_delivered_before_revoke"}
    validate(delivered.value, schemas.parsed_schema("Receipt"), raise_errors=True)
    # The same fallback read again (a replay) is answered the same way, without asking RBM again.
    [again] = stage.process_batch([(sms_fallback(), meta(1))])
    assert again[0].value["receipt_id"] == delivered.value["receipt_id"] and len(rcs.revoked) == 1


@pytest.mark.parametrize("answer", [None, RuntimeError("provider bug")])
def test_a_revoke_without_an_answer_sends_the_sms_and_the_batch_stops_asking(answer: bool | None | Exception) -> None:
    rcs = RcsProvider(answer)
    ledger = ledger_with_rcs_attempt()
    ledger.write([logic.ledger_record("m-2", "SUBMITTED", "rbm", ["rbm-m-2"], None, NOW)])
    stage, sms = stage_with(rcs, ledger)
    first, second = stage.process_batch([(sms_fallback(), meta(0)), (sms_fallback(message_id="m-2", e164="+33612345679"), meta(1))])
    assert [o.topic for o in first] == [o.topic for o in second] == ["dispatched", "rcs-deadline", "submissions"]
    assert rcs.revoked == [(RCS_ID, PHONE)] and len(sms.submitted) == 2


def test_only_a_deadline_fallback_of_a_submitted_rcs_attempt_is_revoked() -> None:
    rcs = RcsProvider(False)
    stage, sms = stage_with(rcs, ledger_with_rcs_attempt())
    [failed_report] = stage.process_batch([(sms_fallback(reason="rcs_undelivered"), meta())])
    assert rcs.revoked == [] and failed_report[0].topic == "dispatched"
    never_taken = Revoker(ledger_with_rcs_attempt(state="FAILED").state, lambda _name: rcs)
    assert never_taken.before_fallback(sms_fallback(), NOW, set()) is None and rcs.revoked == []
    first_attempt = {**sms_fallback(), "attempt": 1, "channel": "RCS"}
    assert Revoker(ledger_with_rcs_attempt().state, lambda _name: rcs).before_fallback(first_attempt, NOW, set()) is None


def test_a_provider_that_cannot_revoke_or_is_not_open_does_not_hold_the_fallback() -> None:
    class NoRevoke:
        name = "http:sim"

    ledger = ledger_with_rcs_attempt(provider="http:sim")
    assert Revoker(ledger.state, lambda _name: NoRevoke()).before_fallback(sms_fallback(), NOW, set()) is None
    assert Revoker(ledger.state, lambda _name: None).before_fallback(sms_fallback(), NOW, set()) is None


def test_each_attempt_is_revoked_once_per_process() -> None:
    """A second revoke of a revoked message could answer 404, which would read as "delivered"."""
    rcs = RcsProvider(True)
    revoker = Revoker(ledger_with_rcs_attempt().state, lambda _name: rcs)
    assert revoker.before_fallback(sms_fallback(), NOW, set()) is None
    rcs.answer = False
    assert revoker.before_fallback(sms_fallback(), NOW + timedelta(seconds=5), set()) is None and len(rcs.revoked) == 1


def test_with_the_rbm_adapter_a_delivered_message_keeps_the_sms_back(fake_rbm: FakeRbm, rbm: RbmProvider) -> None:
    for message_id, phone in (("m-pending", PHONE), ("m-delivered", "+33612345679")):
        rbm.submit_many([Submission(message_id, "courrier-agent", "RCS_AGENT", phone, "hi", "GSM7", channel="RCS")])
    fake_rbm.deliver(rbm_message_id("m-delivered"))
    ledger = MemoryLedger()
    ledger.write([logic.ledger_record(m, "SUBMITTED", rbm.name, [rbm_message_id(m)], None, NOW) for m in ("m-pending", "m-delivered")])
    revoker = Revoker(ledger.state, lambda _name: rbm)
    assert revoker.before_fallback(sms_fallback(message_id="m-pending"), NOW, set()) is None
    assert fake_rbm.made(rbm_message_id("m-pending"))["revoked"]
    [kept_back] = revoker.before_fallback(sms_fallback(message_id="m-delivered", e164="+33612345679"), NOW, set()) or []
    assert kept_back.value["status"] == "DELIVERED" and kept_back.value["provider_message_id"] == rbm_message_id("m-delivered")
