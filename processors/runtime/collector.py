"""Python's cyclic garbage collector, tuned for a stage process.

A stage allocates a dict per record decoded and per record written, and frees almost all of them at once by reference
counting: they seldom form cycles. The collector's default (a young-generation pass every 700 net allocations) then
walks live objects to find nearly nothing: py-spy showed ``gc_collect_main`` at 10 % of the receipt stage's samples.
Passes are made rarer, and what start-up loaded (modules, schemas, settings) is moved out of the collector's sight.
"""
from __future__ import annotations

import gc

# Young-generation pass every 50,000 net allocations (a few batches of records), older ones as usual after it.
THRESHOLDS = (50_000, 20, 10)


def tune_for_streaming() -> None:
    """Freeze what is alive now (it lives as long as the process) and space the young-generation passes out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
