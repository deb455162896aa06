"""The real parts Courrier runs on, started locally when no external one is configured.

``ensure_running`` fetches what is missing, starts what is not already answering and waits until
each part is ready; ``stop`` ends what it started; ``status`` reports each part. A part whose
external address is set (``KAFKA_BOOTSTRAP_SERVERS``, ``SCHEMA_REGISTRY_URL``,
``S3_ENDPOINT_URL``, ``COURRIER_SMPP_HOST``) is never started.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from courrier.config import Settings
from infra.parts import ALL, Part
from infra.process import read_pid, spawn, terminate, wait_until
from processors.runtime.errors import UnreachableError

PARTS: tuple[str, ...] = tuple(ALL)


@dataclass(frozen=True)
class PartStatus:
    """What one part is doing now."""

    name: str
    address: str
    state: str
    pid: int | None
    log: Path | None


def _parts(names: Iterable[str]) -> list[Part]:
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise UnreachableError(f"unknown part {unknown[0]!r}; the parts are {', '.join(PARTS)}")
    return [ALL[n] for n in names]


def _pid_file(part: Part, settings: Settings) -> Path:
    return part.home(settings) / f"{part.name}.pid"


def _log(part: Part, settings: Settings) -> Path:
    return part.home(settings) / f"{part.name}.log"


def fetch(settings: Settings, parts: Iterable[str] = PARTS, progress: Callable[[str], None] | None = None) -> None:
    """Download what the local parts need (cached; a second call does nothing)."""
    for part in _parts(parts):
        if part.external(settings) or part.fetched(settings):
            continue
        if progress:
            progress(f"fetching {part.name}…")
        part.home(settings).mkdir(parents=True, exist_ok=True)
        part.fetch(settings)


def ensure_running(settings: Settings, parts: Iterable[str] = PARTS, progress: Callable[[str], None] | None = None) -> list[str]:
    """Fetch, start and wait for every local part that is not already answering; returns the names it started."""
    say = progress or (lambda _line: None)
    chosen = _parts(parts)
    fetch(settings, [p.name for p in chosen], say)
    started: list[str] = []
    for part in chosen:
        if part.external(settings) or part.ready(settings):
            continue
        say(f"starting {part.name} on {part.address(settings)}…")
        part.home(settings).mkdir(parents=True, exist_ok=True)
        launch = part.launch(settings)
        pid_file = _pid_file(part, settings)
        spawn(launch.argv, launch.cwd, _log(part, settings), pid_file, launch.env)
        started.append(part.name)
    for name in started:
        part = ALL[name]
        began = time.monotonic()
        pid_file = _pid_file(part, settings)
        if not wait_until(lambda: part.ready(settings), part.start_timeout_s, alive=lambda: read_pid(pid_file) is not None):
            stop(settings, started)
            raise UnreachableError(f"{part.name} did not become ready on {part.address(settings)} within {part.start_timeout_s:.0f}s; "
                                   f"see {_log(part, settings)}, then `courrier infra up {part.name}` again")
        say(f"{part.name} ready on {part.address(settings)} in {time.monotonic() - began:.1f}s")
    return started


def stop(settings: Settings, parts: Iterable[str] = PARTS) -> list[str]:
    """Stop the named local parts that this state directory started; returns the names actually stopped."""
    return [part.name for part in _parts(parts) if terminate(_pid_file(part, settings))]


def status(settings: Settings) -> list[PartStatus]:
    """Each part: external, running (answering) or stopped, with its pid and log when local."""
    report = []
    for part in ALL.values():
        external = part.external(settings)
        if external:
            report.append(PartStatus(part.name, external, "external", None, None))
            continue
        pid = read_pid(_pid_file(part, settings))
        state = "running" if part.ready(settings) else "stopped"
        log = _log(part, settings)
        report.append(PartStatus(part.name, part.address(settings), state, pid, log if log.exists() else None))
    return report
