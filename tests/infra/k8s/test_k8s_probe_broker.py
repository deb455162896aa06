"""A generated stage pod, run as a local process: its args, its ConfigMaps' environment and configuration file, and
its probe command, against the real broker. The probe passes once the stage consumes and fails once it is gone."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from common.config import Settings
import infra.k8s.health
from processors.config_example import example
from infra.k8s.render import manifests
from infra.k8s.target import Target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(command: list[str], port: int) -> subprocess.CompletedProcess[str]:
    """The pod's probe command, the image's ``courrier-health`` being this repository's script, on ``port``."""
    script, url = command
    assert script == "courrier-health"
    url = url.replace(":9400/", f":{port}/")
    return subprocess.run([sys.executable, "-I", infra.k8s.health.__file__, url], capture_output=True, text=True, timeout=30)


def test_keywords_pod_becomes_ready_and_stops_on_sigterm(topic_settings: Settings, tmp_path: Path) -> None:
    files = manifests(topic_settings, Target(config_text=example()))
    config_map, env_map = files["00-config.yaml"]
    deployment = next(docs[0] for name, docs in files.items() if name.endswith("-keywords.yaml"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    (tmp_path / "courrier.toml").write_text(config_map["data"]["courrier.toml"])  # the ConfigMap, as mounted
    port = free_port()
    env = {**os.environ, **env_map["data"], "KAFKA_BOOTSTRAP_SERVERS": topic_settings.bootstrap_servers,
           "SCHEMA_REGISTRY_URL": topic_settings.registry_url, "COURRIER_CONFIG": str(tmp_path / "courrier.toml"),
           "COURRIER_STATE_DIR": str(tmp_path / "state"), "COURRIER_METRICS_PORT": str(port),
           "COURRIER_METRICS_HOST": "127.0.0.1",  # the pod's 0.0.0.0 would open this machine's port to its network
           "COURRIER_INSTANCE_ID": "courrier-keywords-test",
           # What Secret courrier-secrets gives the pod: the example file's providers reference these (*_env).
           "TWILIO_ACCOUNT_SID": "AC-test", "TWILIO_AUTH_TOKEN": "test-token"}
    stage = subprocess.Popen([sys.executable, "-m", "courrier.entry", *container["args"]], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        command = container["readinessProbe"]["exec"]["command"]
        deadline = time.monotonic() + 90
        while (answer := probe(command, port)).returncode != 0 and stage.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert answer.returncode == 0, (answer.stderr, stage.poll(), stage.stderr.read() if stage.poll() is not None else "")
        stage.send_signal(signal.SIGTERM)
        assert stage.wait(timeout=deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]) == 0
        gone = probe(container["livenessProbe"]["exec"]["command"], port)
        assert gone.returncode == 1 and "did not answer" in gone.stderr
    finally:
        if stage.poll() is None:
            stage.kill()
            stage.wait()
