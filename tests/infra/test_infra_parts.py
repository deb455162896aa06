"""The local parts: configuration rendering, external parts left alone, one-line errors, and up/status/down on spare ports."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from common.config import Settings
from common.errors import UnreachableError
import infra
import infra.cli
from infra.part import Launch, Part
from infra.parts import ALL
from infra.parts.kafka import server_properties
from infra.parts.s3 import PORT_BLOCK, seaweed_ports
from infra.parts.s3 import client as s3_client
from infra.process import port_open, read_pid


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
    properties = dict(line.split("=", 1) for line in server_properties(settings).splitlines() if line)
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert properties["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert properties["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert properties["num.partitions"] == "4" and properties["process.roles"] == "broker,controller"
    assert properties["auto.create.topics.enable"] == "false"


def test_seaweed_opens_one_block_of_ports_after_the_s3_port() -> None:
    ports = seaweed_ports(28333)
    assert sorted(ports.values()) == list(range(28333, 28333 + PORT_BLOCK))
    assert ports["s3.port"] == 28333 and {"master.port", "volume.port", "filer.port", "admin.port.grpc"} <= set(ports)
    assert set(seaweed_ports(8333).values()).isdisjoint(ports.values())


def test_external_parts_are_reported_and_never_started(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap_servers="broker.example:9092", schema_registry_url="http://registry.example",
                        s3_endpoint_url="http://s3.example", smpp_host="smsc.example", sim_url="http://sim.example")
    assert infra.ensure_running(settings) == []
    assert {(p.name, p.state, p.address, p.pid) for p in infra.status(settings)} == {
        ("kafka", "external", "broker.example:9092", None), ("registry", "external", "http://registry.example", None),
        ("s3", "external", "http://s3.example", None), ("smsc", "external", "smsc.example:2775", None),
        ("sim", "external", "http://sim.example", None)}
    assert not any(tmp_path.iterdir())


def test_an_unknown_part_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnreachableError, match="unknown part 'zookeeper'"):
        infra.ensure_running(Settings(state_dir=tmp_path), parts=["zookeeper"])


def test_the_cli_reports_an_error_in_one_line_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra.cli, "get_settings", lambda: Settings(state_dir=tmp_path))
    result = CliRunner().invoke(infra.cli.app, ["up", "zookeeper"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["error: unknown part 'zookeeper'; the parts are kafka, registry, s3, smsc, sim"]


# A stand-in part, so the lifecycle's errors can be checked without Java: a Python process that never listens,
# or dies at once, on a port nothing else uses.

def fake_part(port: int, code: str, timeout_s: float = 2) -> Part:
    def launch(settings: Settings) -> Launch:
        return Launch([sys.executable, "-c", code], settings.state_dir / "fake", {})

    return Part(name="fake", port_setting="FAKE_PORT", address=lambda s: f"127.0.0.1:{port}", external=lambda s: None,
                fetched=lambda s: True, fetch=lambda s: None, launch=launch, answers=lambda s: port_open("127.0.0.1", port),
                ready=lambda s: False, start_timeout_s=timeout_s)


@pytest.fixture
def install_fake(monkeypatch: pytest.MonkeyPatch) -> Callable[[Part], None]:
    return lambda part: monkeypatch.setitem(ALL, part.name, part)


@pytest.fixture
def quiet_port() -> int:
    return free_port_block(1)


def test_a_part_that_never_answers_fails_in_one_line_and_is_stopped(tmp_path: Path, install_fake, quiet_port: int) -> None:
    install_fake(fake_part(quiet_port, "import time; time.sleep(120)"))
    settings = Settings(state_dir=tmp_path)
    pid_file = tmp_path / "fake" / "fake.pid"
    with pytest.raises(UnreachableError) as caught:
        infra.ensure_running(settings, parts=["fake"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"fake on 127.0.0.1:{quiet_port}: not ready within 2s")
    assert str(tmp_path / "fake" / "fake.log") in message and "courrier infra up fake" in message
    assert read_pid(pid_file) is None and not pid_file.exists()


def test_a_part_that_dies_at_once_names_its_last_log_line(tmp_path: Path, install_fake, quiet_port: int) -> None:
    install_fake(fake_part(quiet_port, "import sys; print('Address already in use'); sys.exit(3)", timeout_s=60))
    with pytest.raises(UnreachableError, match=r"fake on .*: exited \(Address already in use\); see .*fake\.log"):
        infra.ensure_running(Settings(state_dir=tmp_path), parts=["fake"])


def test_a_stranger_on_the_port_is_reused_never_doubled_and_named_when_it_is_not_the_part(tmp_path: Path, install_fake,
                                                                                             quiet_port: int) -> None:
    install_fake(fake_part(quiet_port, "raise SystemExit('must not be started')"))
    with socket.create_server(("127.0.0.1", quiet_port)):
        with pytest.raises(UnreachableError, match=f"something listens on 127.0.0.1:{quiet_port} but does not answer as fake.*FAKE_PORT"):
            infra.ensure_running(Settings(state_dir=tmp_path), parts=["fake"])
    assert not (tmp_path / "fake" / "fake.log").exists()


def test_a_running_part_is_reported_with_its_pid_and_stopped(tmp_path: Path, install_fake, quiet_port: int) -> None:
    serve = f"import socket, time; s = socket.create_server(('127.0.0.1', {quiet_port})); time.sleep(120)"
    part = fake_part(quiet_port, serve, timeout_s=30)
    install_fake(Part(**{**part.__dict__, "ready": part.answers}))
    settings = Settings(state_dir=tmp_path)
    assert infra.ensure_running(settings, parts=["fake"]) == ["fake"]
    assert infra.ensure_running(settings, parts=["fake"]) == []  # answers already: reused
    (fake,) = [p for p in infra.status(settings) if p.name == "fake"]
    assert fake.state == "running" and fake.pid is not None and fake.log == tmp_path / "fake" / "fake.log"
    assert infra.stop(settings, ["fake"]) == ["fake"]
    with pytest.raises(ProcessLookupError):
        os.kill(fake.pid, 0)
    (fake,) = [p for p in infra.status(settings) if p.name == "fake"]
    assert (fake.state, fake.pid) == ("stopped", None)


@pytest.mark.integration
def test_fetch_is_cached(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    said: list[str] = []
    infra.fetch(settings, ["smsc"], progress=said.append)
    jars = sorted(p.name for p in (tmp_path / "smsc" / "libs").iterdir())
    assert said == ["fetching smsc…"] and any(j.startswith("jsmpp-3.") for j in jars) and (tmp_path / "smsc" / "classes" / "CourrierSmsc.class").exists()
    infra.fetch(settings, ["smsc"], progress=said.append)
    assert said == ["fetching smsc…"] and sorted(p.name for p in (tmp_path / "smsc" / "libs").iterdir()) == jars


@pytest.mark.integration
def test_up_status_down_on_spare_ports(tmp_path: Path) -> None:
    base = free_port_block(7 + PORT_BLOCK)  # the registry also takes registry_port + 1
    settings = Settings(state_dir=tmp_path, kafka_port=base, kafka_controller_port=base + 1, registry_port=base + 2,
                        smpp_port=base + 4, smsc_control_port=base + 5 + PORT_BLOCK, s3_port=base + 5,
                        sim_port=base + 6 + PORT_BLOCK, media_bucket="infra-test-media")
    started = infra.ensure_running(settings)  # fetches into tmp_path from ~/.m2: seconds, not a download
    try:
        assert started == list(infra.PARTS)
        running = {p.name: (p.state, p.pid is not None) for p in infra.status(settings)}
        assert running == dict.fromkeys(infra.PARTS, ("running", True))
        assert infra.ensure_running(settings) == []  # already running: reused, not started twice
        s3_client(settings).head_bucket(Bucket="infra-test-media")  # created once ready (weed lists no buckets without IAM)
    finally:
        stopped = infra.stop(settings, started)
    assert sorted(stopped) == sorted(infra.PARTS)
    assert {p.name: (p.state, p.pid) for p in infra.status(settings)} == dict.fromkeys(infra.PARTS, ("stopped", None))
