"""``courrier run STAGE``: one stage as a long-lived process (see ``courrier.entry`` for why it stands alone)."""
from __future__ import annotations

from typing import Optional

import typer

from common import logs
from common.config import get_settings

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def run(
    stage: str = typer.Argument(..., help="Stage to run: consent, channel, render, dispatch, receipt, keywords or scheduler."),
    exactly_once: bool = typer.Option(
        True, "--exactly-once/--at-least-once",
        help="Kafka transactions, one per batch: a killed stage leaves all of a batch or none of it (the default). "
             "At-least-once may write a batch's outputs twice after a crash."),
    batch_size: int = typer.Option(500, min=1, max=100_000, help="Records consumed per batch."),
    metrics_port: Optional[int] = typer.Option(None, min=0, max=65535, help="Port for /metrics and /healthz (0 = any free port)."),
) -> None:
    """Run one stage as a long-lived process until SIGTERM."""
    from processors.catalog import run_stage
    from processors.runtime.collector import tune_for_streaming
    from processors.runtime.heap import limit_arenas

    limit_arenas()  # before any thread starts
    settings = get_settings()
    logs.configure(settings.log_level)
    tune_for_streaming()
    run_stage(stage, settings, exactly_once=exactly_once, batch_size=batch_size, metrics_port=metrics_port)
