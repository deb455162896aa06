"""``courrier bench chain`` on a tiny count: the five figures in one run (the chain with SMPP against an SMSC of this
test's own, every message ended by its delivery report; the chain with the no-op provider; both passthroughs; the
bare submit/DLR loop against the same SMSC), the ratios printed, and no topic or consumer group left behind.
No assertion on time: the figures only have to exist."""
from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from common.config import Settings
from courrier.bench import CHAIN, bench_chain
from courrier.passthrough import fastavro_hop, sample_record
from tests.processors.providers.smpp.harness import private_smsc

pytestmark = pytest.mark.integration
COUNT = 40


def test_every_figure_of_one_run_and_nothing_left(real_parts: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with private_smsc(real_parts) as settings:
        bench = bench_chain(settings, count=COUNT, window=5)
    assert bench.errors == []
    figures = [bench.raw, bench.fastavro, bench.noop, bench.smpp, bench.bare]
    assert all(f is not None and f.count == COUNT and f.seconds > 0 for f in figures), figures
    assert bench.noop is not None and bench.smpp is not None
    for chain in (bench.noop, bench.smpp):  # each timed message ended once, by its (no-op or SMSC) delivery report
        assert f"terminal receipts: DELIVERED {COUNT}" in chain.note, chain.note
    for chain in (bench.noop, bench.smpp):  # where each timed run's CPU went, process by process
        assert chain.cpu is not None and set(CHAIN) <= set(chain.cpu.by_process) and "kafka" in chain.cpu.by_process
        assert all(seconds >= 0 for seconds in chain.cpu.by_process.values()) and sum(chain.cpu.by_process.values()) > 0
    out = capsys.readouterr().out
    assert "CPU during the timed run of courrier chain (SMPP" in out and "µs per message" in out
    for line in ("chain (no-op) / fastavro passthrough =", "chain (SMPP) / bare SMPP submit/DLR loop =", "target ≥ 3,500"):
        assert line in out
    assert len(bench.prefixes) == 4 and bench.topics_left == 0
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid]
    assert not [g for g in groups if g.startswith(tuple(bench.prefixes))]


def test_a_fastavro_hop_decodes_and_encodes_the_record_unchanged() -> None:
    record = sample_record(7)
    assert fastavro_hop()(record) == record and record[:5] == bytes(5)
