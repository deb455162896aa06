"""A dispatch process that submits but never gets to produce what its provider reports: the kill test's victim.

Run as a script (settings from the environment, as ``courrier.processes.settings_env`` gives them). It consumes
``rendered`` and submits through SMPP like any dispatch, but its ``poll_outputs`` keeps every report in memory and
hands the runtime nothing, as a dispatch whose next batch has not started yet would; it prints each report's provider
id as a JSON line, so the test knows when to SIGKILL it. Its consumer group is the one ``dispatch_broker.running``
uses, so the dispatch that follows does not read the same messages again.
"""
from __future__ import annotations

import json
import queue
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from courrier.config import Settings  # noqa: E402
from dispatch_broker import smpp_factory  # noqa: E402
from processors.dispatch.ledger import SubmissionLedger  # noqa: E402
from processors.dispatch.stage import DispatchStage  # noqa: E402
from processors.runtime.runner import Runner, RunnerOptions  # noqa: E402
from processors.runtime.stage import Output  # noqa: E402


class StalledDispatch(DispatchStage):
    """``DispatchStage`` whose reports stay in memory (unproduced, so unacknowledged); each one is announced on stdout."""

    def poll_outputs(self) -> list[Output]:
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return []
            print(json.dumps({"received": getattr(item, "provider_message_id", None)}), flush=True)


def main() -> None:
    settings = Settings()
    stage = StalledDispatch(smpp_factory(settings, []), SubmissionLedger(settings))
    group_id = f"{settings.topic_prefix}dispatch-{'-'.join(stage.inputs)}"
    Runner(stage, settings, RunnerOptions(batch_timeout_s=0.05, metrics_port=0, group_id=group_id)).run()


if __name__ == "__main__":
    main()
