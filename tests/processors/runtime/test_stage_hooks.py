"""``Hooks`` finds a stage's optional hooks by their protocols; a missing one does nothing, or is None where it matters."""
from __future__ import annotations

from processors.runtime.stage import Event, Hooks, Output, PollsOutputs, ProcessesBatches, RecordMeta


class Plain:
    name = "plain"
    inputs = ("send-requested",)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return []


class WithSome(Plain):
    process_batch = None  # an attribute left None is no hook

    def __init__(self) -> None:
        self.opened = 0

    def open(self) -> None:
        self.opened += 1

    def poll_outputs(self) -> list[Output]:
        return [Output("receipt", "k", None)]


def test_a_stage_without_hooks_gets_no_ops_and_nones() -> None:
    hooks = Hooks(Plain())
    assert hooks.process_batch is None and hooks.commit_points is None and hooks.paused_inputs is None
    hooks.open(), hooks.close(), hooks.outputs_delivered(), hooks.batch_aborted(), hooks.partitions_revoked([("t", 0)])
    assert list(hooks.poll_outputs()) == [] and list(hooks.dead_letter_outputs({}, ValueError(), None)) == []  # type: ignore[arg-type]


def test_the_hooks_a_stage_has_are_its_own_methods() -> None:
    stage = WithSome()
    hooks = Hooks(stage)
    hooks.open()
    assert stage.opened == 1
    assert [o.topic for o in hooks.poll_outputs()] == ["receipt"]
    assert isinstance(stage, PollsOutputs) and not isinstance(stage, ProcessesBatches)
    assert hooks.process_batch is None
