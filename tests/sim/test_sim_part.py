"""The simulator as an infra part: `python -m sim` started, probed, reused and stopped like the other parts."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

import infra
from courrier.config import Settings
from infra.parts import ALL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_is_a_part_with_its_own_port_setting_and_external_override() -> None:
    part = ALL["sim"]
    assert part.port_setting == "COURRIER_SIM_PORT" and part.fetched(Settings())
    assert part.address(Settings(sim_port=18123)) == "http://127.0.0.1:18123"
    assert part.external(Settings(sim_url="http://sim.example:80/")) == "http://sim.example:80/"
    assert Settings(sim_url="http://sim.example:80/").sim_address == "http://sim.example:80"


def test_up_status_down_on_a_spare_port(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, sim_port=free_port(), sim_token="part-token", webhook_secret="part-secret")
    assert infra.ensure_running(settings, parts=["sim"]) == ["sim"]
    try:
        (status,) = [p for p in infra.status(settings) if p.name == "sim"]
        assert (status.state, status.address) == ("running", settings.sim_address) and status.pid is not None
        assert infra.ensure_running(settings, parts=["sim"]) == []  # answers already: reused
        answer = httpx.get(f"{settings.sim_address}/v1/messages", params={"client_ref": "x"},
                           headers={"Authorization": "Bearer part-token"})
        assert answer.status_code == 404  # the token of the settings reached the process
        assert "part-secret" not in " ".join(ALL["sim"].launch(settings).argv)
    finally:
        assert infra.stop(settings, ["sim"]) == ["sim"]
    assert not ALL["sim"].answers(settings)


def test_bad_arguments_are_one_line() -> None:
    run = subprocess.run([sys.executable, "-m", "sim", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.strip().splitlines()[-1].endswith("--max-messages at least 1")
