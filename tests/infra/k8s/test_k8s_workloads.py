"""Workloads come from the code: every stage of the catalog, every lane of a chain stage, the runner's consumer groups."""
from __future__ import annotations

from types import SimpleNamespace

from common.config import Settings
from processors.catalog import LANED, STAGE_NAMES
from processors.runtime.lanes import LANES, group_id
from processors.runtime.runner import Runner, RunnerOptions
from infra.k8s.workloads import stage_inputs, workloads
from topology.topics import LANE_TOPICS, lane_inputs

CHAINED = {"dispatch", *LANED}


def test_every_stage_and_lane_has_a_workload() -> None:
    names = {w.name for w in workloads(Settings())}
    assert {s for s in STAGE_NAMES if s not in CHAINED} <= names
    assert {f"{stage}-{lane.lower()}" for stage in CHAINED for lane in LANES} <= names
    assert {"api", "webhooks", "links"} <= names


def test_consumer_groups_are_the_runners_own() -> None:
    settings = Settings(topic_prefix="t-")
    for w in workloads(settings):
        if "COURRIER_LANES" in w.env:
            stage, lane = w.args[1], w.env["COURRIER_LANES"].upper()
            assert w.group_id == group_id(settings, stage, lane)
            assert w.inputs == ((LANE_TOPICS[lane],) if stage == "dispatch" else lane_inputs(stage_inputs(stage), lane))
        elif w.inputs:
            # Runner.group_id without an explicit group: the runner's property over a stand-in of its state.
            runner = SimpleNamespace(options=RunnerOptions(), settings=settings, stage=SimpleNamespace(name=w.name))
            assert w.group_id == Runner.group_id.fget(runner)  # type: ignore[attr-defined]
            assert w.inputs == stage_inputs(w.name)


def test_only_the_scheduler_and_http_services_keep_a_fixed_count() -> None:
    fixed = {w.name for w in workloads(Settings()) if not w.scales_on_lag}
    assert fixed == {"scheduler", "api", "webhooks", "links"}
