"""Which stages exist and how each is built from settings: the one place that wires reference data to pure logic."""
from __future__ import annotations

from typing import Callable

from courrier.config import Settings
from processors.runtime.clients import require_broker
from processors.runtime.errors import CourrierError
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.stage import Stage
from processors.runtime.table import TopicTable


class UnknownStage(CourrierError):
    """The name given is not a stage."""


def _consent(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.consent.stage import ConsentStage

    consents = TopicTable(settings, "consent")
    return ConsentStage(consents), [consents]


def _channel(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.channel.stage import ChannelStage

    return ChannelStage(), []


def _render(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from dataclasses import replace

    from processors.render.rcs import DEFAULT_LIMITS
    from processors.render.stage import RenderStage
    from processors.render.templates import DEFAULT_DIR

    limits = replace(DEFAULT_LIMITS, text=settings.rcs_text_max_chars)
    return RenderStage(settings.templates_dir or DEFAULT_DIR, rcs_limits=limits), []


def _dispatch(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.dispatch.ledger import SubmissionLedger
    from processors.dispatch.smpp import SmppProvider
    from processors.dispatch.stage import DispatchStage

    host, port = settings.smpp_address

    def provider(on_report, on_inbound) -> SmppProvider:
        return SmppProvider(host, port, settings.smpp_system_id, settings.smpp_password, window=settings.smpp_window,
                            on_report=on_report, on_inbound=on_inbound, decimal_receipt_ids=settings.smpp_receipt_ids_decimal)

    return DispatchStage(provider, SubmissionLedger(settings)), []


def _receipt(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.receipt.stage import ReceiptStage

    return ReceiptStage(), []


def _keywords(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.keywords.stage import KeywordsStage

    return KeywordsStage(), []


BUILDERS: dict[str, Callable[[Settings], tuple[Stage, list[TopicTable]]]] = {
    "consent": _consent,
    "channel": _channel,
    "render": _render,
    "dispatch": _dispatch,
    "receipt": _receipt,
    "keywords": _keywords,
}
STAGE_NAMES = (*BUILDERS, "scheduler")


def run_stage(name: str, settings: Settings, *, exactly_once: bool = False, batch_size: int = 500, metrics_port: int | None = None) -> None:
    """Build stage ``name`` and run it until SIGTERM; the scheduler has a loop of its own."""
    if name == "scheduler":
        from processors.scheduler.scheduler import Scheduler

        Scheduler(settings, metrics_port=metrics_port).run()
        return
    if name not in BUILDERS:
        raise UnknownStage(f"no stage {name!r}; choose one of {', '.join(STAGE_NAMES)}")
    require_broker(settings)
    stage, tables = BUILDERS[name](settings)
    for table in tables:
        table.start()
    try:
        Runner(stage, settings, RunnerOptions(batch_size=batch_size, exactly_once=exactly_once, metrics_port=metrics_port)).run()
    finally:
        for table in tables:
            table.stop()
