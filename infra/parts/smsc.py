"""Courrier's SMPP 3.4 test peer (``infra/smsc/CourrierSmsc.java``), built on jsmpp's server session from Maven Central.

It binds loopback only, answers submit_sm, sends a delivery receipt per submit (same decimal id) after
``COURRIER_SMSC_RECEIPT_DELAY_MS``, journals every accepted submit_sm, and injects mobile-originated messages;
the journal and the injection are served on ``COURRIER_SMSC_CONTROL_PORT`` (``/submissions``, ``/stats``, ``/mo``),
and so are its faults for chaos runs (``/faults``, ``/drop``; ``infra/smsc_control.py`` is a client).
The class is compiled with ``javac`` at fetch time; a changed source is compiled again."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from common.config import Settings
from common.errors import UnreachableError
from infra.fetch import copy_dependencies, java
from infra.part import Launch, Part
from infra.process import listening

SMSC_DIR = Path(__file__).resolve().parent.parent / "smsc"
SOURCE = SMSC_DIR / "CourrierSmsc.java"
MAIN_CLASS = "CourrierSmsc"
# Fault injection at start (all 0 by default; POST /faults changes them at run time): read from the environment only,
# as chaos runs set them for the one SMSC they start.
FAULT_ENV = {"COURRIER_SMSC_SYSERR_RATE": "syserrRate", "COURRIER_SMSC_THROTTLE_RATE": "throttleRate",
             "COURRIER_SMSC_SILENT_RATE": "silentRate", "COURRIER_SMSC_DUPLICATE_REPORT_RATE": "duplicateReportRate",
             "COURRIER_SMSC_ENROUTE_AFTER_RATE": "enrouteAfterRate", "COURRIER_SMSC_REORDER_RATE": "reorderRate",
             "COURRIER_SMSC_REORDER_DELAY_MS": "reorderDelayMs", "COURRIER_SMSC_FAULT_SEED": "faultSeed"}


def _classes(settings: Settings) -> Path:
    return SMSC.home(settings) / "classes"


def _source_stamp() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def _fetched(settings: Settings) -> bool:
    stamp = _classes(settings) / "source.sha256"
    libs_ok = any((SMSC.home(settings) / "libs").glob("telecom-charsets-*.jar"))
    return libs_ok and stamp.exists() and stamp.read_text() == _source_stamp()


def _fetch(settings: Settings) -> None:
    libs = SMSC.home(settings) / "libs"
    if not any(libs.glob("telecom-charsets-*.jar")):
        copy_dependencies(SMSC_DIR, libs)
    javac = shutil.which("javac")
    if javac is None:
        raise UnreachableError("javac is not on PATH: install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)")
    classes = _classes(settings)
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir(parents=True)
    done = subprocess.run([javac, "-d", str(classes), "-cp", str(libs / "*"), str(SOURCE)], capture_output=True, text=True)
    if done.returncode != 0:
        raise UnreachableError(f"compiling {SOURCE.name} failed: {done.stderr.strip()[:500]}")
    (classes / "source.sha256").write_text(_source_stamp())


def _launch(settings: Settings) -> Launch:
    home = SMSC.home(settings)
    argv = [java(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            f"-Dcourrier.smsc.port={settings.smpp_port}", f"-Dcourrier.smsc.controlPort={settings.smsc_control_port}",
            f"-Dcourrier.smsc.systemId={settings.smpp_system_id}", f"-Dcourrier.smsc.password={settings.smpp_password}",
            f"-Dcourrier.smsc.receiptDelayMs={settings.smsc_receipt_delay_ms}",
            f"-Dcourrier.smsc.undelivSuffixes={settings.smsc_undeliverable_suffixes}",
            *(f"-Dcourrier.smsc.{prop}={os.environ[env]}" for env, prop in FAULT_ENV.items() if os.environ.get(env)),
            "-cp", f"{home / 'libs' / '*'}:{_classes(settings)}", MAIN_CLASS]
    return Launch(argv, home, {})


SMSC = Part(
    name="smsc",
    port_setting="COURRIER_SMPP_PORT",
    address=lambda s: f"{s.smpp_address[0]}:{s.smpp_address[1]}",
    external=lambda s: f"{s.smpp_host}:{s.smpp_port}" if s.smpp_host else None,
    fetched=_fetched,
    fetch=_fetch,
    launch=_launch,
    answers=lambda s: listening(s.smpp_port),
    ready=lambda s: listening(s.smpp_port) and (s.smsc_control_port == 0 or listening(s.smsc_control_port)),
    start_timeout_s=30,
)
