"""The garbage collector's tuning for stage processes."""
from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from processors.runtime.collector import THRESHOLDS, tune_for_streaming


@pytest.fixture
def restored_collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_start_up_objects_are_frozen_and_young_passes_spaced_out(restored_collector: None) -> None:
    survivor = {"loaded": "at start"}
    tune_for_streaming()
    assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[0] > 700 * 10
    assert gc.get_freeze_count() > 0
    assert all(o is not survivor for o in gc.get_objects())  # frozen: out of every generation the collector walks


def test_cycles_made_after_the_tuning_are_still_collected(restored_collector: None) -> None:
    tune_for_streaming()
    node = _Node()
    node.me = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


class _Node:
    me: "_Node"
