"""What the lifecycle in ``infra`` needs to know about one real part; each part's module builds one ``Part``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from common.config import Settings


@dataclass(frozen=True)
class Launch:
    """How to run a part: its command line, working directory and extra environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]


def _nothing(_settings: Settings) -> None:
    return None


@dataclass(frozen=True)
class Part:
    """One real part: where it listens, whether an external one is configured, and how to fetch, launch and probe it.

    ``answers`` is a cheap "something listens on its port"; ``ready`` is the real probe (a metadata request, an HTTP
    call); ``prepare`` runs once the part is ready, started or reused (e.g. the media bucket)."""

    name: str
    port_setting: str
    address: Callable[[Settings], str]
    external: Callable[[Settings], str | None]
    fetched: Callable[[Settings], bool]
    fetch: Callable[[Settings], None]
    launch: Callable[[Settings], Launch]
    answers: Callable[[Settings], bool]
    ready: Callable[[Settings], bool]
    start_timeout_s: float
    prepare: Callable[[Settings], None] = _nothing

    def home(self, settings: Settings) -> Path:
        """This part's folder in the state directory: its jars or data, pid file and log."""
        return settings.state_dir / self.name

    def pid_file(self, settings: Settings) -> Path:
        return self.home(settings) / f"{self.name}.pid"

    def log(self, settings: Settings) -> Path:
        return self.home(settings) / f"{self.name}.log"
