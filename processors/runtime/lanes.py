"""Priority lanes: a chain stage runs one runner per lane in one process, so a campaign's batches never delay an OTP.

A transactional message's records take its lane's own topic at every hop (``topology.topics.lane_topic``, applied by
the runtime to every output); each lane's runner reads its lane's inputs (``topology.topics.lane_inputs``) on a
consumer group, thread and stage instance of its own. The lanes of a stage share what must be one (its tables: the
caller builds them once), and each lane's stage handles whatever lane it finds on its topic, so records written before
the lanes were split are still sent.
"""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from common.config import Settings
from common.errors import CourrierError
from processors.runtime.runner import CoPartitionedTable, Runner, RunnerOptions
from processors.runtime.stage import Stage
from processors.runtime.table import TopicTable
from topology.topics import lane_inputs

LANES = ("TRANSACTIONAL", "MARKETING")

# How long a lane's consumer waits for a batch. The marketing lane waits that long for its batch to fill (fewer, larger
# transactions), so a paced message back from ``scheduled`` can be a twentieth of a second late after a batch that held
# others. The transactional lane is eager (``RunnerOptions.eager``): it takes a batch as soon as one record is there,
# so no hop holds an OTP to fill a batch; its wait only paces an idle loop (side outputs, backpressure).
POLL_S = {"TRANSACTIONAL": 0.01, "MARKETING": 0.05}
EAGER = frozenset({"TRANSACTIONAL"})


class BadLanes(CourrierError):
    """``COURRIER_LANES`` names no lane, an unknown one, or one twice."""


def parse_lanes(text: str) -> list[str]:
    """``"transactional,marketing"`` → ``["TRANSACTIONAL", "MARKETING"]``; a clear error for anything else."""
    lanes = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [lane for lane in lanes if lane not in LANES]
    if unknown or not lanes or len(set(lanes)) != len(lanes):
        raise BadLanes(f"COURRIER_LANES must be distinct names among {', '.join(lane.lower() for lane in LANES)}, not {text!r}")
    return lanes


@dataclass(frozen=True)
class LaneStage:
    """One lane's stage, the consumer group it reads with and, when not the stage's own, the inputs it reads."""

    lane: str
    stage: Stage
    group_id: str
    inputs: tuple[str, ...] | None = None


def group_id(settings: Settings, stage_name: str, lane: str) -> str:
    """The marketing lane keeps the stage's historical group (its committed offsets stay valid); the others get their own."""
    base = f"{settings.topic_prefix}courrier-{stage_name}"
    return base if lane == "MARKETING" else f"{base}-{lane.lower()}"


def lane_stage(settings: Settings, stage_name: str, lane: str, stage: Stage) -> LaneStage:
    """``stage`` (an instance of its own) reading ``lane``'s topics of the chain on the lane's consumer group."""
    return LaneStage(lane, stage, group_id(settings, stage_name, lane), lane_inputs(stage.inputs, lane))


def lane_options(options: RunnerOptions, lane: LaneStage, index: int, settings: Settings) -> RunnerOptions:
    """The ``index``-th lane's runner options: its group, exactly its own topics, its wait and metrics on port + index."""
    port = options.metrics_port if options.metrics_port is not None else settings.metrics_port
    inputs = lane.inputs if lane.inputs is not None else lane.stage.inputs
    return replace(options, group_id=lane.group_id, inputs=inputs, lane=lane.lane, metrics_port=port + index if port else 0,
                   batch_timeout_s=POLL_S.get(lane.lane, options.batch_timeout_s), eager=lane.lane in EAGER)


def run_lanes(lanes: Sequence[LaneStage], tables: Sequence[TopicTable], settings: Settings, options: RunnerOptions,
              until: Callable[[], bool] | None = None, state: Sequence[CoPartitionedTable] = ()) -> None:
    """Run every lane's stage on its own runner thread until SIGTERM/SIGINT, ``until()``, or one of them fails (re-raised).

    ``tables`` are started first and stopped last; ``state`` are the co-partitioned ones, restored by whichever lane
    reads their partner topic. Lane i serves its metrics on the given port + i."""
    runners = [Runner(lane.stage, settings, lane_options(options, lane, index, settings), state=state) for index, lane in enumerate(lanes)]
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
    threads = [threading.Thread(target=run, args=(r,), name=f"{lane.stage.name}-{lane.lane.lower()}", daemon=True)
               for r, lane in zip(runners, lanes)]
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
