"""The chaos run's stages as processes: instances of each, one killed in rotation, a rebalance (``courrier.chaos``)."""
from __future__ import annotations

import random
from pathlib import Path

from common.config import Settings
from courrier.chaos_report import ChaosReport
from courrier.processes import StageProcess, start_stage, stop_all

# The stages a message crosses and the keywords stage (STOPs): the status and callbacks stages are not on its path.
STAGES = ("consent", "channel", "render", "dispatch", "receipt", "keywords", "scheduler")


class Supervisor:
    """Every stage as processes (``instances`` of each, instance ids "0", "1"…); kills one in rotation and restarts it under
    the same instance id (which fences its predecessor's open transaction at once); restarts any that exited by itself,
    as an orchestrator would; ``rebalance`` adds an instance of every stage and retires the oldest (SIGKILL, no restart)."""

    def __init__(self, settings: Settings, log_dir: Path, rng: random.Random, report: ChaosReport, instances: int = 1) -> None:
        self._settings, self._log_dir, self._rng, self._report = settings, log_dir, rng, report
        self.stages: dict[tuple[str, str], StageProcess] = {
            (name, str(i)): self._start((name, str(i))) for name in STAGES for i in range(instances)}
        self._next_instance = instances
        self._rotation: list[tuple[str, str]] = []

    def _start(self, which: tuple[str, str]) -> StageProcess:
        name, instance = which
        run = sum(self._report.kills.values()) + sum(self._report.restarts_after_exit.values())
        return start_stage(name, self._settings, self._log_dir / f"{name}-{instance}-{run}", instance=instance)

    def kill_next(self) -> str:
        self._rotation = [w for w in self._rotation if w in self.stages]
        if not self._rotation:
            self._rotation = self._rng.sample(sorted(self.stages), len(self.stages))
        which = self._rotation.pop()
        self.stages[which].kill()
        self._report.kills[which[0]] += 1
        self.stages[which] = self._start(which)
        return which[0]

    def rebalance(self) -> None:
        """A new instance of every stage joins its group, then the oldest of each is killed and not replaced."""
        instance = str(self._next_instance)
        self._next_instance += 1
        for name in STAGES:
            self.stages[(name, instance)] = self._start((name, instance))
        for name in STAGES:
            oldest = min((w for w in self.stages if w[0] == name), key=lambda w: int(w[1]))
            self.stages.pop(oldest).kill()
        self._report.rebalances += 1

    def revive(self) -> None:
        for which, process in list(self.stages.items()):
            if not process.alive():
                self._report.restarts_after_exit[which[0]] += 1
                self.stages[which] = self._start(which)

    def stop(self) -> None:
        stop_all(self.stages.values())
