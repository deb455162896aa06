"""A dispatch process that submits but never gets to produce what its provider reports: the kill test's victim.

Run as a script (settings from the environment, as ``courrier.processes.settings_env`` gives them). It consumes
``rendered`` and submits through SMPP like any dispatch, but its event sink never produces a report (so never lets it
be answered), as a dispatch killed before the broker acknowledged its reports would; it prints each report's provider
id as a JSON line, so the test knows when to SIGKILL it. Its consumer group is the one ``dispatch_broker.running``
uses, so the dispatch that follows does not read the same messages again.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common.config import Settings  # noqa: E402
from dispatch_broker import smpp_factory  # noqa: E402
from processors.dispatch.ledger import SubmissionLedger  # noqa: E402
from processors.dispatch.stage import DispatchStage  # noqa: E402
from processors.runtime.runner import Runner, RunnerOptions  # noqa: E402
from processors.runtime.stage import Output  # noqa: E402


class Holding:
    """An event sink that never produces (so never acknowledges): each report is announced on stdout instead."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def produce(self, output: Output, done: Callable[[str | None], None]) -> None:
        if output.topic != "provider-events":
            return
        dispatched = output.value["dispatched"]  # a long message's parts come as one report: announce every part
        for part_id in dispatched["provider_message_ids"] if dispatched else [output.key]:
            print(json.dumps({"received": part_id}), flush=True)


def main() -> None:
    settings = Settings()
    stage = DispatchStage(smpp_factory(settings, []), SubmissionLedger(settings), sink=Holding())
    group_id = f"{settings.topic_prefix}dispatch-{'-'.join(stage.inputs)}"
    Runner(stage, settings, RunnerOptions(batch_timeout_s=0.05, metrics_port=0, group_id=group_id)).run()


if __name__ == "__main__":
    main()
