"""The local parts: configuration rendering, external parts left alone, and a full up/status/down on spare ports."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

import infra
from courrier.config import Settings
from infra.parts import _kafka_properties, seaweed_ports
from processors.runtime.errors import UnreachableError


def free_port_block(size: int) -> int:
    """A base port with ``size`` free ports after it (checked, not guaranteed: good enough on a quiet test machine)."""
    for base in range(31000, 60000, 97):
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_kafka_properties_follow_the_settings(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_port=29092, kafka_controller_port=29093, partitions=4)
    properties = dict(line.split("=", 1) for line in _kafka_properties(settings).splitlines() if line)
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert properties["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert properties["num.partitions"] == "4" and properties["process.roles"] == "broker,controller"


def test_seaweed_ports_are_derived_so_two_instances_coexist() -> None:
    assert set(seaweed_ports(8333).values()).isdisjoint(seaweed_ports(28333).values())


def test_external_parts_are_reported_and_never_started(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap_servers="broker.example:9092", schema_registry_url="http://registry.example",
                        s3_endpoint_url="http://s3.example", smpp_host="smsc.example")
    assert infra.ensure_running(settings) == []
    assert {(p.name, p.state, p.address) for p in infra.status(settings)} == {
        ("kafka", "external", "broker.example:9092"), ("registry", "external", "http://registry.example"),
        ("s3", "external", "http://s3.example"), ("smsc", "external", "smsc.example:2775")}
    assert not any(tmp_path.iterdir())


def test_an_unknown_part_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnreachableError, match="unknown part 'zookeeper'"):
        infra.ensure_running(Settings(state_dir=tmp_path), parts=["zookeeper"])


@pytest.mark.integration
def test_up_status_down_on_spare_ports(tmp_path: Path) -> None:
    cache = Settings().state_dir  # reuse the fetched jars: a fresh state dir would download them again
    base = free_port_block(12)
    settings = Settings(state_dir=tmp_path, kafka_port=base, kafka_controller_port=base + 1, registry_port=base + 2,
                        s3_port=base + 4, smpp_port=base + 10)
    for name in ("kafka", "smsc"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "libs").symlink_to(cache / name / "libs")
    (tmp_path / "registry").symlink_to(cache / "registry")
    started = infra.ensure_running(settings)
    try:
        assert started == list(infra.PARTS)
        assert {p.name: p.state for p in infra.status(settings)} == dict.fromkeys(infra.PARTS, "running")
        assert infra.ensure_running(settings) == []  # already running: reused, not started twice
    finally:
        stopped = infra.stop(settings, started)
    assert sorted(stopped) == sorted(infra.PARTS)
    assert {p.name: p.state for p in infra.status(settings)} == dict.fromkeys(infra.PARTS, "stopped")
