"""Priority lanes: transactional messages (OTP, alerts) have a topic and a consumer of their own, never behind a campaign.

Render writes a message to its lane's topic (``topology.topics.rendered_topic``). One dispatch process runs one
stage per lane, each on its own consumer group, thread and provider binds, so a campaign's batches,
pacing holds and submits never delay an OTP. The lanes share what must be one: the submissions
ledger, the consent and campaign tables, and the senders' budgets (a sender used by both lanes is
paced once, and the transactional lane has priority on it). Each lane's stage handles whatever lane
it finds on its topic, so records written before render split the lanes are still sent.
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from courrier.config import Settings
from processors.runtime.errors import CourrierError
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.stage import Stage
from processors.runtime.table import TopicTable
from topology.topics import LANE_TOPICS

log = logging.getLogger(__name__)

# How long a lane's consumer waits to fill a batch. librdkafka waits the whole time unless the batch fills, so this
# is the floor of an OTP's latency (the transactional lane polls often, its batches are small), and how late a paced
# message back from ``scheduled`` can be after a batch that held others (the marketing lane: a twentieth of a second).
POLL_S = {"TRANSACTIONAL": 0.01, "MARKETING": 0.05}


class BadLanes(CourrierError):
    """``COURRIER_DISPATCH_LANES`` names no lane, an unknown one, or one twice."""


def parse_lanes(text: str) -> list[str]:
    """``"transactional,marketing"`` → ``["TRANSACTIONAL", "MARKETING"]``; a clear error for anything else."""
    lanes = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [lane for lane in lanes if lane not in LANE_TOPICS]
    if unknown or not lanes or len(set(lanes)) != len(lanes):
        raise BadLanes(f"dispatch lanes must be distinct names among {', '.join(l.lower() for l in LANE_TOPICS)}, not {text!r}")
    return lanes


@dataclass(frozen=True)
class LaneStage:
    """One lane's stage and the consumer group it reads its topic with."""

    lane: str
    stage: Stage
    group_id: str


def group_id(settings: Settings, lane: str) -> str:
    """The marketing lane keeps dispatch's historical group (``rendered``'s committed offsets stay valid)."""
    base = f"{settings.topic_prefix}courrier-dispatch"
    return base if lane == "MARKETING" else f"{base}-{lane.lower()}"


def run_lanes(lanes: Sequence[LaneStage], tables: Sequence[TopicTable], settings: Settings, options: RunnerOptions,
              until: Callable[[], bool] | None = None) -> None:
    """Run every lane's stage on its own runner thread until SIGTERM/SIGINT, ``until()``, or one of them fails (re-raised)."""
    runners = []
    for index, lane in enumerate(lanes):
        port = options.metrics_port if options.metrics_port is not None else settings.metrics_port
        runners.append(Runner(lane.stage, settings, replace(options, group_id=lane.group_id, metrics_port=port + index if port else 0,
                                                            batch_timeout_s=POLL_S.get(lane.lane, options.batch_timeout_s))))
    failures: list[BaseException] = []
    stop = threading.Event()

    def run(runner: Runner) -> None:
        try:
            runner.run(until=lambda: stop.is_set() or bool(until and until()))
        except BaseException as exc:  # handed to the caller's thread, after the other lanes stopped
            failures.append(exc)
        finally:
            stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    for table in tables:
        table.start()
    threads = [threading.Thread(target=run, args=(r,), name=f"dispatch-{lane.lane.lower()}", daemon=True) for r, lane in zip(runners, lanes)]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for table in tables:
            table.stop()
    if failures:
        raise failures[0]
