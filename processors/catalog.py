"""Which stages exist and how each is built from settings: the one place that wires reference data to pure logic."""
from __future__ import annotations

from typing import Callable

from courrier.config import Settings
from processors.dispatch.lanes import LaneStage
from processors.runtime.clients import require_broker
from processors.runtime.errors import CourrierError
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.stage import Stage
from processors.runtime.table import TopicTable


class UnknownStage(CourrierError):
    """The name given is not a stage."""


def _consent(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.consent.stage import ConsentStage, rules_from_settings

    from datetime import timedelta

    from processors.intake.settings import IntakeSettings

    consents = TopicTable(settings, "consent")
    sends = TopicTable(settings, "frequency")
    keys = TopicTable(settings, "idempotency")
    window = timedelta(seconds=IntakeSettings().idempotency_window_s)
    return ConsentStage(consents, sends, rules_from_settings(settings), keys, window), [consents, sends, keys]


def _channel(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.channel.capability import capability_lookup
    from processors.channel.stage import ChannelStage

    return ChannelStage(rcs_capable=capability_lookup(settings), mms_regions=settings.mms_region_codes,
                        sms_fallback_after_s=settings.rcs_sms_fallback_after_s), []


def _render(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from dataclasses import replace

    from processors.render.media import MediaPipeline
    from processors.render.rcs import DEFAULT_LIMITS
    from processors.render.stage import RenderStage
    from processors.render.templates import DEFAULT_DIR

    limits = replace(DEFAULT_LIMITS, text=settings.rcs_text_max_chars)
    return RenderStage(settings.templates_dir or DEFAULT_DIR, rcs_limits=limits, media=MediaPipeline.from_settings(settings),
                       link_domain=settings.link_domain), []


def _dispatch(settings: Settings) -> tuple[list[LaneStage], list[TopicTable]]:
    """One dispatch stage per lane, sharing the submissions ledger, the senders' budgets and the consent and campaign
    tables; each lane builds its own providers (COURRIER_DISPATCH_PROVIDERS, in order of preference)."""
    from processors.dispatch.breaker import BreakerPolicy
    from processors.dispatch.lanes import LaneStage, group_id, parse_lanes
    from topology.topics import rendered_topic
    from processors.dispatch.ledger import SubmissionLedger
    from processors.dispatch.pacing import DEFAULT_LIMITS, Pacer, PacingLimits
    from processors.providers.smpp.adapter import SmppProvider
    from processors.dispatch.stage import DispatchStage, ProviderSpec
    from processors.dispatch.validity import Validity

    def smpp(host: str, port: int) -> ProviderSpec:
        def build(on_report, on_inbound) -> SmppProvider:
            return SmppProvider(host, port, settings.smpp_system_id, settings.smpp_password, window=settings.smpp_window,
                                on_report=on_report, on_inbound=on_inbound, decimal_receipt_ids=settings.smpp_decimal_receipt_ids)
        return ProviderSpec(build, frozenset({"SMS"}))

    def http() -> ProviderSpec:
        from processors.dispatch.http_provider import HttpProvider

        def build(on_report, on_inbound) -> HttpProvider:
            return HttpProvider(settings.sim_address, settings.sim_token, on_report=on_report, on_inbound=on_inbound)
        return ProviderSpec(build, frozenset({"SMS", "MMS", "RCS"}))

    providers: list[ProviderSpec] = []
    for name in (part.strip() for part in settings.dispatch_providers.split(",") if part.strip()):
        if name == "smpp":
            providers.append(smpp(*settings.smpp_address))
            if settings.smpp_failover:
                host, _, port = settings.smpp_failover.rpartition(":")
                if not host or not port.isdigit():
                    raise CourrierError(f"COURRIER_SMPP_FAILOVER must be host:port, not {settings.smpp_failover!r}")
                providers.append(smpp(host, int(port)))
        elif name == "http":
            providers.append(http())
        elif name == "twilio":  # COURRIER_TWILIO_* (processors/providers/twilio/settings.py)
            from processors.providers.twilio.adapter import CHANNELS, TwilioProvider
            from processors.providers.twilio.settings import TwilioSettings

            twilio = TwilioSettings()
            twilio.credentials()  # a missing credential stops the stage now, naming the setting
            providers.append(ProviderSpec(lambda on_report, on_inbound: TwilioProvider(twilio, on_report=on_report, on_inbound=on_inbound),
                                          CHANNELS))
        else:
            raise CourrierError(f"COURRIER_DISPATCH_PROVIDERS: no provider {name!r}; use smpp, http or both, in order of preference")
    if not providers:
        raise CourrierError("COURRIER_DISPATCH_PROVIDERS names no provider; use smpp, http or both")
    consents, campaigns = TopicTable(settings, "consent"), TopicTable(settings, "campaigns")
    ledger = SubmissionLedger(settings)
    pacer = Pacer(PacingLimits.load(settings.dispatch_pacing_file or DEFAULT_LIMITS)) if settings.dispatch_pacing else None
    breaker = BreakerPolicy(failures=settings.dispatch_breaker_failures, cooldown_s=settings.dispatch_breaker_cooldown_s,
                            max_cooldown_s=max(120.0, settings.dispatch_breaker_cooldown_s))
    lanes = [LaneStage(lane, DispatchStage(providers, ledger, inputs=(rendered_topic(lane),), consents=consents, campaigns=campaigns,
                                           pacer=pacer, priority=lane == "TRANSACTIONAL", hold_s=settings.dispatch_hold_s,
                                           wave_size=settings.dispatch_wave_size, validity=Validity.from_settings(settings),
                                           breaker=breaker), group_id(settings, lane))
             for lane in parse_lanes(settings.dispatch_lanes)]
    return lanes, [consents, campaigns]


def _receipt(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.receipt.stage import ReceiptStage

    states = TopicTable(settings, "message-state")
    return ReceiptStage(states), [states]


def _keywords(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.keywords.stage import KeywordsStage

    return KeywordsStage(), []


BUILDERS: dict[str, Callable[[Settings], tuple[Stage, list[TopicTable]]]] = {
    "consent": _consent,
    "channel": _channel,
    "render": _render,
    "receipt": _receipt,
    "keywords": _keywords,
}
STAGE_NAMES = (*BUILDERS, "dispatch", "scheduler")


def run_stage(name: str, settings: Settings, *, exactly_once: bool = True, batch_size: int = 500, metrics_port: int | None = None) -> None:
    """Build stage ``name`` and run it until SIGTERM, each on the one runner (dispatch: one runner per lane)."""
    if name == "scheduler":
        from processors.scheduler.scheduler import Scheduler

        Scheduler(settings, metrics_port=metrics_port, exactly_once=exactly_once).run()
        return
    if name == "dispatch":  # one stage per lane, each on a runner of its own (processors/dispatch/lanes.py)
        from processors.dispatch.lanes import run_lanes

        require_broker(settings)
        lanes, tables = _dispatch(settings)
        run_lanes(lanes, tables, settings, RunnerOptions(batch_size=batch_size, exactly_once=exactly_once, metrics_port=metrics_port))
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
