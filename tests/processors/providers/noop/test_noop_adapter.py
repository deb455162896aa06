"""The no-op provider: accepted at once with an id of its own, one DELIVERED report per message that the receipt stage
reads as DELIVERED, nothing after close, built by the registry from a configuration file's ``kind = "noop"``."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from common.config import Settings
from processors.providers.deployment import load_deployment
from processors.dispatch.provider import DeliveryReport
from processors.providers.noop.plugin import KIND
from processors.providers.registry import ConfiguredProvider, health, kind
from processors.receipt.statuses import normalize, protocol_of
from tests.processors.providers.noop.harness import FaultlessProvider, NoopHarness


def test_every_submission_is_accepted_once_with_an_id_and_reported_delivered() -> None:
    harness = NoopHarness()
    provider = harness.provider()
    provider.open()
    ids = [str(uuid.uuid4()) for _ in range(50)]
    try:
        results = provider.submit_many([harness.submission(i) for i in ids])
    finally:
        provider.close()
    assert [r.message_id for r in results] == ids and all(r.accepted and not r.transient for r in results)
    provider_ids = [r.provider_message_ids for r in results]
    assert all(len(p) == 1 and p[0] for p in provider_ids) and len({p[0] for p in provider_ids}) == len(ids)
    assert all(harness.times_sent(i) == 1 for i in ids)
    assert [r.provider_message_id for r in harness.reports] == [p[0] for p in provider_ids]
    assert {(r.provider, r.raw_status, r.ack) for r in harness.reports} == {("noop", "DELIVERED", None)}


def test_its_report_word_becomes_the_declared_receipt_status() -> None:
    harness = NoopHarness()
    for word, expected in harness.statuses.items():
        assert normalize(word, protocol_of(harness.name)).status == expected


def test_two_providers_never_share_an_id() -> None:
    first, second = NoopHarness().provider(), NoopHarness().provider()
    for provider in (first, second):
        provider.open()
    submission = NoopHarness().submission("m")
    assert first.submit_many([submission])[0].provider_message_ids != second.submit_many([submission])[0].provider_message_ids


def test_a_closed_provider_sends_nothing_and_reports_nothing() -> None:
    reports: list[DeliveryReport] = []
    harness = NoopHarness()
    provider = KIND.dispatch(ConfiguredProvider("noop", "noop", KIND.channels).context(Settings(), on_report=reports.append))
    (result,) = provider.submit_many([harness.submission("never-opened")])
    assert (result.accepted, result.transient, reports) == (False, True, [])


def test_faults_of_a_peer_are_refused_rather_than_faked() -> None:
    with pytest.raises(FaultlessProvider, match="no peer"):
        NoopHarness().inject("lost_answer")


def test_a_configuration_file_declares_it_and_the_registry_builds_it(tmp_path: Path) -> None:
    config = tmp_path / "courrier.toml"
    config.write_text('[providers.noop]\nkind = "noop"\nchannels = ["SMS"]\n', encoding="utf-8")
    (declared,) = load_deployment(config).providers
    assert (declared.name, declared.kind, declared.channels) == ("noop", "noop", frozenset({"SMS"}))
    assert kind("noop") is KIND and KIND.webhook is None and KIND.capability is None
    assert health(declared, Settings()).startswith("reachable")
    reports: list[DeliveryReport] = []
    provider = KIND.dispatch(declared.context(Settings(), on_report=reports.append))
    provider.open()
    (result,) = provider.submit_many([NoopHarness().submission("from-the-file")])
    provider.close()
    assert result.accepted and reports[0].provider == "noop" and reports[0].provider_message_id == result.provider_message_ids[0]
