"""jsmpp's SMSC simulator (an SMPP 3.4 peer that answers submit_sm and sends delivery receipts) from Maven Central jars.

It listens on every interface: jsmpp 3.0.1's ``SMPPServerSimulator`` opens ``new ServerSocket(port)`` and reads no
bind-address property, so only the port is ours to choose."""
from __future__ import annotations

import sys
from pathlib import Path

from courrier.config import Settings
from infra.fetch import copy_dependencies, java
from infra.part import Launch, Part
from infra.process import listening

POM_DIR = Path(__file__).resolve().parent.parent / "smsc"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where the `infra` package is importable from, for the supervisor


def _launch(settings: Settings) -> Launch:
    # Warnings only: the jar's simplelogger.properties sets org.jsmpp to trace, several lines per PDU.
    argv = [java(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dorg.slf4j.simpleLogger.log.org.jsmpp=warn",
            f"-Djsmpp.simulator.port={settings.smpp_port}", f"-Djsmpp.client.systemId={settings.smpp_system_id}",
            f"-Djsmpp.client.password={settings.smpp_password}", "-cp", str(SMSC.home(settings) / "libs" / "*"),
            "org.jsmpp.examples.SMPPServerSimulator"]
    # The simulator's accept loop dies on the first session that closes before it sends its "Hello World"
    # deliver_sm, and its receipt threads keep the JVM alive without a listening port: a supervisor restarts it.
    supervised = [sys.executable, "-m", "infra.supervise", str(settings.smpp_port), "--", *argv]
    return Launch(supervised, SMSC.home(settings), {"PYTHONPATH": str(PROJECT_ROOT)})


SMSC = Part(
    name="smsc",
    port_setting="COURRIER_SMPP_PORT",
    address=lambda s: f"{s.smpp_address[0]}:{s.smpp_address[1]}",
    external=lambda s: f"{s.smpp_host}:{s.smpp_port}" if s.smpp_host else None,
    # slf4j-api 2 marks a fetch from the current POM (an older one copied 1.7, which silenced the log).
    fetched=lambda s: any((SMSC.home(s) / "libs").glob("slf4j-api-2.*.jar")),
    fetch=lambda s: copy_dependencies(POM_DIR, SMSC.home(s) / "libs"),
    launch=_launch,
    # Never a TCP probe: a connection that does not bind makes jsmpp 3.0.1 stop accepting binds for 30 s.
    answers=lambda s: listening(s.smpp_port),
    ready=lambda s: listening(s.smpp_port),
    start_timeout_s=30,
)
