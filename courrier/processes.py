"""Stages as separate OS processes (``courrier run STAGE``), for the demo, the benchmarks and the crash tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from common.config import Settings

PIPELINE = ("consent", "channel", "render", "dispatch", "receipt", "keywords", "scheduler", "status", "callbacks")


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child process read the same settings as ``settings``."""
    return {**os.environ, **settings.as_env()}


@dataclass
class StageProcess:
    """One running stage process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self, timeout_s: float = 20.0, signalled: bool = False) -> int | None:
        """SIGTERM (finish the batch, commit, close) unless already ``signalled``, then SIGKILL if it does not exit in time."""
        if self.alive():
            if not signalled:
                self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the crash a stage must survive."""
        if self.alive():
            self.process.kill()
        self.process.wait()


def start_stage(name: str, settings: Settings, log_dir: Path, extra_args: Iterable[str] = (),
                extra_env: Mapping[str, str] | None = None, instance: str = "0", label: str | None = None,
                niceness: int = 0) -> StageProcess:
    """Start ``courrier run NAME`` with ``settings`` passed through the environment; output goes to ``log_dir/NAME.log``
    (``LABEL.log`` when given: two processes of one stage, e.g. one per lane). A positive ``niceness`` lowers the
    process's CPU priority (``nice``): a campaign's lane yields the cores to the transactional one.

    ``instance`` becomes ``COURRIER_INSTANCE_ID`` (unless the settings name one): a stage restarted under the same
    instance id fences its killed predecessor's open transaction at once instead of waiting for it to time out; two
    instances of one stage running side by side need two ids."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{label or name}.log"
    env = settings_env(settings)
    env.setdefault("COURRIER_INSTANCE_ID", instance)
    env.update(extra_env or {})
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "courrier.entry", "run", name, *extra_args],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
        )
    return StageProcess(name, process, log_path)


def start_webhooks(settings: Settings, log_dir: Path, port: int | None = None, extra_env: Mapping[str, str] | None = None) -> StageProcess:
    """The webhook receiver (``courrier webhooks serve``) on 127.0.0.1:``port``, by default where the simulator posts
    (the port of ``COURRIER_SIM_WEBHOOK_URL``), for a pipeline whose providers report over HTTP.

    It gets ``settings``' webhook secret; ``SecretMissing`` when there is none (there is no built-in one)."""
    from urllib.parse import urlsplit

    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "webhooks.log"
    # Checked here, in the caller, so a missing secret is one line now rather than a dead child in a log file.
    env = {**settings_env(settings), "COURRIER_WEBHOOK_SECRET": settings.secret("webhook_secret"), **(extra_env or {})}
    listen = port if port is not None else urlsplit(settings.sim_webhook_url).port or 80
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "courrier.entry", "webhooks", "serve", "--port", str(listen)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    return StageProcess("webhooks", process, log_path)


def start_pipeline(settings: Settings, log_dir: Path, stages: Iterable[str] = PIPELINE,
                   extra_env: Mapping[str, str] | None = None) -> list[StageProcess]:
    """Every stage of the chain, each in its own process."""
    return [start_stage(name, settings, log_dir, extra_env=extra_env) for name in stages]


def wait_until_consuming(settings: Settings, stages: Iterable[str], timeout_s: float = 120.0) -> list[str]:
    """Wait until each stage's consumer group (the stage's own, its marketing lane's; ``<stage>-transactional`` names
    that lane's) is stable with partitions assigned: until then a request published is only queued, and a clock started
    then times the stages' start. The stages still not consuming when ``timeout_s`` ran out, none when all are."""
    from confluent_kafka import ConsumerGroupState, KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    waiting = {f"{settings.topic_prefix}courrier-{name}": name for name in stages}
    deadline = time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline:
        for group, future in admin.describe_consumer_groups(list(waiting), request_timeout=10).items():
            try:
                described = future.result()
            except KafkaException:  # not created yet: the stage has not joined
                continue
            if described.state == ConsumerGroupState.STABLE and any(m.assignment.topic_partitions for m in described.members):
                del waiting[group]
        if waiting:
            time.sleep(0.2)
    return sorted(waiting.values())


def stop_all(processes: Iterable[StageProcess]) -> None:
    """SIGTERM every process first so they drain in parallel, then wait for each."""
    processes = list(processes)
    for p in processes:
        if p.alive():
            p.process.send_signal(signal.SIGTERM)
    for p in processes:
        p.terminate(signalled=True)  # a second SIGTERM during interpreter shutdown would kill it with -15
