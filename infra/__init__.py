"""The real parts Courrier runs on, started locally when no external one is configured.

``ensure_running`` fetches what is missing, reuses what already answers, starts the rest detached and waits until each
is ready; ``stop`` ends what a state directory started; ``status`` reports each part. A part whose external address is
set (``KAFKA_BOOTSTRAP_SERVERS``, ``SCHEMA_REGISTRY_URL``, ``S3_ENDPOINT_URL``, ``COURRIER_SMPP_HOST``,
``COURRIER_SIM_URL``) is never started.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

from common.config import Settings
from common.errors import UnreachableError
from infra.part import Part
from infra.parts import ALL
from infra.process import last_line, read_pid, spawn, terminate, wait_until

PARTS: tuple[str, ...] = tuple(ALL)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PartStatus:
    """What one part is doing now; ``pid`` and ``log`` only for a part this state directory started."""

    name: str
    address: str
    state: Literal["running", "stopped", "external"]
    pid: int | None
    log: Path | None


def fetch(settings: Settings, parts: Iterable[str] = PARTS, progress: Progress | None = None) -> None:
    """Download what the local parts need into the state directory; a second call does nothing."""
    for part in _parts(parts):
        if part.external(settings) or part.fetched(settings):
            continue
        if progress:
            progress(f"fetching {part.name}…")
        part.home(settings).mkdir(parents=True, exist_ok=True)
        part.fetch(settings)


def ensure_running(settings: Settings, parts: Iterable[str] = PARTS, progress: Progress | None = None) -> list[str]:
    """Fetch, reuse or start, and wait for every named local part; returns the names it started (stop those when done).

    Raises ``UnreachableError`` (one line: part, address, log, what to run) when a part is not ready in its time;
    the parts this call started are stopped first."""
    say = progress or (lambda _line: None)
    chosen = [part for part in _parts(parts) if not part.external(settings)]
    fetch(settings, [part.name for part in chosen], say)
    started: list[str] = []
    try:
        for part in chosen:
            if _launched(part, settings, say):
                started.append(part.name)
        for part in chosen:
            _wait_ready(part, settings, started_here=part.name in started, say=say)
    except BaseException:
        stop(settings, started)
        raise
    return started


def stop(settings: Settings, parts: Iterable[str] = PARTS) -> list[str]:
    """Stop the named local parts this state directory started (SIGTERM, SIGKILL after 20 s); returns the names stopped."""
    return [part.name for part in _parts(parts) if terminate(part.pid_file(settings))]


def status(settings: Settings) -> list[PartStatus]:
    """Each part: external, running (its port answers) or stopped, with the pid this state directory started it as."""
    report = []
    for part in ALL.values():
        external = part.external(settings)
        if external:
            report.append(PartStatus(part.name, external, "external", None, None))
            continue
        log = part.log(settings)
        state: Literal["running", "stopped"] = "running" if part.answers(settings) else "stopped"
        report.append(PartStatus(part.name, part.address(settings), state, read_pid(part.pid_file(settings)),
                                 log if log.exists() else None))
    return report


def _parts(names: Iterable[str]) -> list[Part]:
    names = list(names)
    unknown = [name for name in names if name not in ALL]
    if unknown:
        raise UnreachableError(f"unknown part {unknown[0]!r}; the parts are {', '.join(PARTS)}")
    return [ALL[name] for name in names]


def _launched(part: Part, settings: Settings, say: Progress) -> bool:
    """Start ``part`` unless something already listens on its port or our own process for it is still starting."""
    if part.answers(settings):
        say(f"{part.name}: reusing what answers on {part.address(settings)}")
        return False
    if read_pid(part.pid_file(settings)) is not None:
        say(f"{part.name}: waiting for the process a previous `up` started")
        return False
    say(f"starting {part.name} on {part.address(settings)}…")
    launch = part.launch(settings)
    spawn(launch.argv, launch.cwd, part.log(settings), part.pid_file(settings), launch.env)
    return True


def _wait_ready(part: Part, settings: Settings, started_here: bool, say: Progress) -> None:
    began = time.monotonic()
    pid_file = part.pid_file(settings)
    owned = started_here or read_pid(pid_file) is not None
    alive = (lambda: read_pid(pid_file) is not None) if owned else (lambda: True)
    if not wait_until(lambda: part.ready(settings), part.start_timeout_s, alive=alive):
        raise UnreachableError(_not_ready(part, settings, owned, exited=owned and not alive()))
    part.prepare(settings)
    if started_here:
        say(f"{part.name} ready on {part.address(settings)} in {time.monotonic() - began:.1f}s")


def _not_ready(part: Part, settings: Settings, owned: bool, exited: bool) -> str:
    """The one line that says which part, where, why if known, where to look and what to run."""
    address, log = part.address(settings), part.log(settings)
    if not owned:
        return (f"{part.name}: something listens on {address} but does not answer as {part.name} within "
                f"{part.start_timeout_s:.0f}s; stop it or set {part.port_setting} to a free port, then run `courrier infra up {part.name}`")
    why = f"exited ({last_line(log) or 'no output'})" if exited else f"not ready within {part.start_timeout_s:.0f}s"
    return f"{part.name} on {address}: {why}; see {log}, then run `courrier infra down {part.name} && courrier infra up {part.name}`"
