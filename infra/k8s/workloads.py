"""What runs on a cluster, read from the code: one workload per stage, per dispatch lane and per HTTP service.

A stage's input topics come from its class (``Stage.inputs``; a chain stage's lane reads ``lane_inputs`` of them,
dispatch its lane's ``LANE_TOPICS``), the stage list from ``processors.catalog.STAGE_NAMES`` and consumer groups from
the same formulas as the runner's, so a stage or a lane added to the code appears here without editing this file (a
test checks every name is covered).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from common.config import Settings
from processors.catalog import LANED, STAGE_NAMES
from processors.runtime.lanes import LANES, group_id as lane_group_id
from topology.topics import LANE_TOPICS, lane_inputs

# The port every stage serves /metrics and /healthz on in a pod (COURRIER_METRICS_PORT); a chain stage's process with
# one lane serves it on this port exactly (lanes.run_lanes adds the lane's index).
METRICS_PORT = 9400

# Where each stage's class lives (its ``inputs`` are class attributes); dispatch reads its lane's topic instead.
_STAGE_CLASSES = {
    "consent": "processors.consent.stage:ConsentStage",
    "channel": "processors.channel.stage:ChannelStage",
    "render": "processors.render.stage:RenderStage",
    "receipt": "processors.receipt.stage:ReceiptStage",
    "keywords": "processors.keywords.stage:KeywordsStage",
    "scheduler": "processors.scheduler.scheduler:SchedulerStage",
    "status": "processors.status.stage:StatusStage",
    "callbacks": "processors.callbacks.stage:CallbacksStage",
}

# SIGTERM lets the batch in hand finish and commit. A batch is at most the poll wait (0.2 s) plus the records'
# work: a few seconds for most stages; dispatch may hold a message for its sender's budget (COURRIER_DISPATCH_HOLD_S,
# ≤ 60 s) and wait for a provider's answer (DispatchStage's submit_timeout_s, 30 s). The grace covers the worst case.
GRACE_S = 60
DISPATCH_GRACE_S = 120

# The HTTP services: command, port, and why they are there. Each answers /healthz on its own port.
HTTP_SERVICES = {
    "api": (("api", "serve"), 8080, "the HTTP intake"),
    "webhooks": (("webhooks", "serve"), 18091, "provider webhooks"),
    "links": (("links", "serve"), 18092, "short-link redirects"),
}


@dataclass(frozen=True)
class Workload:
    """One Deployment: the ``courrier`` arguments it runs, what it consumes and where its health is served."""

    name: str
    args: tuple[str, ...]
    health_port: int
    inputs: tuple[str, ...] = ()
    group_id: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    http_port: int | None = None
    grace_s: int = GRACE_S
    # The scheduler holds delayed records uncommitted until they are due, so its lag counts waiting work, not a
    # backlog more replicas would drain: it runs at a fixed count instead.
    scales_on_lag: bool = True
    what: str = ""


def stage_inputs(stage: str) -> tuple[str, ...]:
    """The logical topics a (non-dispatch) stage consumes, from its class."""
    module, _, cls = _STAGE_CLASSES[stage].partition(":")
    return tuple(getattr(importlib.import_module(module), cls).inputs)


def stage_group_id(settings: Settings, stage: str) -> str:
    """The consumer group a stage's runner joins (``Runner.group_id`` without an explicit one)."""
    return f"{settings.topic_prefix}courrier-{stage}"


def workloads(settings: Settings) -> list[Workload]:
    """Every workload of a deployment, stages in ``STAGE_NAMES`` order, then dispatch's lanes, then the HTTP services."""
    found: list[Workload] = []
    for stage in STAGE_NAMES:
        if stage == "dispatch" or stage in LANED:
            found.extend(_lanes(settings, stage))
            continue
        found.append(Workload(stage, ("run", stage), METRICS_PORT, stage_inputs(stage), stage_group_id(settings, stage),
                              scales_on_lag=stage != "scheduler", what=f"the {stage} stage"))
    for name, (command, port, what) in HTTP_SERVICES.items():
        found.append(Workload(name, (*command, "--host", "0.0.0.0", "--port", str(port)), port, http_port=port,
                              scales_on_lag=False, what=what))
    return found


def _lanes(settings: Settings, stage: str) -> list[Workload]:
    """One Deployment per lane of a chain stage (``COURRIER_LANES`` set to that lane alone), so each scales apart."""
    return [Workload(f"{stage}-{lane.lower()}", ("run", stage), METRICS_PORT, _lane_inputs(stage, lane),
                     lane_group_id(settings, stage, lane), env={"COURRIER_LANES": lane.lower()},
                     grace_s=DISPATCH_GRACE_S if stage == "dispatch" else GRACE_S, what=f"{stage}, {lane.lower()} lane")
            for lane in LANES]


def _lane_inputs(stage: str, lane: str) -> tuple[str, ...]:
    return (LANE_TOPICS[lane],) if stage == "dispatch" else lane_inputs(stage_inputs(stage), lane)
