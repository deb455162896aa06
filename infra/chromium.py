"""Headless Chromium, the browser the report page is checked in: Debian's ``chromium`` package, installed with
``apt-get`` when missing (``courrier infra fetch chromium``), and one call that renders a local HTML file to its DOM
and a screenshot.

Chromium runs with every background service off (no sync, no component updates, no QUIC, no first-run fetches), in a
profile folder of its own, and reads only the ``file://`` page it is given.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.errors import UnreachableError

NAMES = ("chromium", "chromium-browser")
INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def find() -> str | None:
    """The Chromium on PATH, or None."""
    return next((found for found in map(shutil.which, NAMES) if found), None)


def ensure(timeout_s: float = 900.0) -> str:
    """Chromium's path, installing Debian's package first when it is missing (needs root and apt-get).

    ``UnreachableError`` (one line, what to run) when it is missing and cannot be installed here."""
    found = find()
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise UnreachableError("Chromium is not installed and this is not a root shell with apt-get: "
                               f"run `sudo {' '.join(INSTALL)}` (or install Chromium another way, on PATH as chromium)")
    result = subprocess.run(INSTALL, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:  # stale package lists are the usual cause: refresh them once
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, timeout=timeout_s)
        result = subprocess.run(INSTALL, capture_output=True, text=True, timeout=timeout_s)
    found = find()
    if result.returncode != 0 or found is None:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise UnreachableError(f"`{' '.join(INSTALL)}` failed: {last}")
    return found


@dataclass(frozen=True)
class Rendered:
    """The page's DOM once its scripts ran, and the screenshot file."""

    dom: str
    screenshot: Path


def render(page: Path, screenshot: Path, width: int = 1400, height: int = 3000, budget_ms: int = 15_000,
           timeout_s: float = 120.0) -> Rendered:
    """Open ``page`` in headless Chromium, let its scripts run for up to ``budget_ms`` of virtual time, and return the
    DOM (``--dump-dom``) with a ``width``×``height`` PNG written to ``screenshot``."""
    browser = ensure()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="courrier-chromium-") as profile:
        argv = [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                f"--virtual-time-budget={budget_ms}", f"--screenshot={screenshot}", "--dump-dom", page.resolve().as_uri()]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0 or not screenshot.is_file():
        lines = [line for line in result.stderr.splitlines() if "dbus" not in line] or ["no output"]
        raise UnreachableError(f"chromium could not render {page}: {lines[-1]}")
    return Rendered(result.stdout, screenshot)
